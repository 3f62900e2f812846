"""``POST /contacts/search``: HighLevel's filter language, parsed once and run over contacts.

Filters are ``{field, operator, value}`` or ``{group: "AND"|"OR", filters: [...]}``; the
top-level list is AND. Custom fields are addressed as ``customFields.{id}``. Equality on a
custom field is answered from an index, so a batch's Person ID lookup stays cheap however
many contacts a location holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from crmsync.providers.highlevel.emulator.errors import unprocessable
from crmsync.providers.highlevel.emulator.records import StoredContact

OPERATORS = ("eq", "not_eq", "contains", "not_contains", "exists", "not_exists")
MAX_VALUE_LENGTH = 75
MAX_PAGE_LIMIT = 500
MAX_WINDOW = 10_000
"""``page * pageLimit`` may reach this far; beyond it, HighLevel wants ``searchAfter``."""
ATTRIBUTES: Mapping[str, Callable[[StoredContact], str | None]] = {
    "id": lambda c: c.id,
    "email": lambda c: (c.attributes.get("email") or "").lower() or None,
    "phone": lambda c: c.attributes.get("phone"),
    "firstNameLowerCase": lambda c: (c.attributes.get("firstName") or "").lower() or None,
    "lastNameLowerCase": lambda c: (c.attributes.get("lastName") or "").lower() or None,
    "companyName": lambda c: c.attributes.get("companyName"),
    "city": lambda c: c.attributes.get("city"),
    "state": lambda c: c.attributes.get("state"),
    "country": lambda c: c.attributes.get("country"),
    "postalCode": lambda c: c.attributes.get("postalCode"),
    "assignedTo": lambda c: c.assigned_to,
    "dateAdded": lambda c: c.date_added,
    "dateUpdated": lambda c: c.date_updated,
}
SORTABLE = ("dateAdded", "dateUpdated", "firstNameLowerCase", "lastNameLowerCase", "email")

Predicate = Callable[[StoredContact], bool]
CustomIndex = Callable[[str, str], set[str]]
"""``(custom field id, value)`` → ids of contacts holding that value."""


@dataclass(frozen=True)
class Query:
    predicate: Predicate
    candidates: Callable[[CustomIndex], set[str] | None]
    """Contact ids that can match, from the index; None means every contact."""


def _getter(field: str, custom_ids: set[str], where: str) -> Callable[[StoredContact], Any]:
    if field.startswith("customFields."):
        field_id = field.removeprefix("customFields.")
        if field_id not in custom_ids:
            raise unprocessable([f"{where}.field {field} is not a custom field of this location"])
        return lambda c: c.custom.get(field_id) or None
    if field not in ATTRIBUTES:
        raise unprocessable([f"{where}.field {field} is not supported"])
    return ATTRIBUTES[field]


def _condition(spec: Mapping[str, Any], custom_ids: set[str], where: str) -> Query:
    field, operator, value = spec.get("field"), spec.get("operator"), spec.get("value")
    if not isinstance(field, str):
        raise unprocessable([f"{where}.field must be a string"])
    if operator not in OPERATORS:
        raise unprocessable([f"{where}.operator must be one of: {', '.join(OPERATORS)}"])
    get = _getter(field, custom_ids, where)
    if operator in ("exists", "not_exists"):
        wanted = operator == "exists"
        return Query(lambda c: (get(c) is not None) == wanted, lambda _index: None)
    if not isinstance(value, (str, int, float, bool)):
        raise unprocessable([f"{where}.value must be a string, number or boolean"])
    text = str(value)
    if len(text) > MAX_VALUE_LENGTH:
        raise unprocessable([f"{where}.value must be at most {MAX_VALUE_LENGTH} characters"])
    folded = text.lower()
    if operator == "eq":
        if field.startswith("customFields."):
            field_id = field.removeprefix("customFields.")
            return Query(lambda c: get(c) == text, lambda index: index(field_id, text))
        return Query(lambda c: str(get(c) or "").lower() == folded, lambda _index: None)
    if operator == "not_eq":
        return Query(lambda c: str(get(c) or "").lower() != folded, lambda _index: None)
    inside = operator == "contains"
    return Query(lambda c: (folded in str(get(c) or "").lower()) == inside, lambda _index: None)


def compile_filters(filters: Any, custom_ids: set[str], where: str = "filters") -> Query:
    """One query for a list of filters joined by AND (or by a group's own operator)."""
    return _group("AND", filters, custom_ids, where)


def _group(kind: Any, filters: Any, custom_ids: set[str], where: str) -> Query:
    if kind not in ("AND", "OR"):
        raise unprocessable([f"{where}.group must be AND or OR"])
    if not isinstance(filters, list):
        raise unprocessable([f"{where} must be an array"])
    parts: list[Query] = []
    for index, spec in enumerate(filters):
        here = f"{where}.{index}"
        if not isinstance(spec, Mapping):
            raise unprocessable([f"{here} must be an object"])
        if "group" in spec:
            parts.append(_group(spec["group"], spec.get("filters"), custom_ids, f"{here}.filters"))
        else:
            parts.append(_condition(spec, custom_ids, here))
    if kind == "AND":
        return Query(
            lambda c: all(p.predicate(c) for p in parts),
            lambda index: _intersect([p.candidates(index) for p in parts]),
        )
    return Query(
        lambda c: any(p.predicate(c) for p in parts),
        lambda index: _union([p.candidates(index) for p in parts]),
    )


def _intersect(sets: list[set[str] | None]) -> set[str] | None:
    known = [s for s in sets if s is not None]
    return set.intersection(*known) if known else None


def _union(sets: list[set[str] | None]) -> set[str] | None:
    if not sets or any(s is None for s in sets):
        return None
    return set().union(*(s for s in sets if s is not None))


@dataclass(frozen=True)
class Page:
    page: int
    limit: int
    search_after: list[Any] | None
    sort_field: str
    descending: bool


def parse_page(body: Mapping[str, Any]) -> Page:
    limit, page, after = body.get("pageLimit", 20), body.get("page", 1), body.get("searchAfter")
    errors: list[str] = []
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_LIMIT:
        errors.append(f"pageLimit must be a number between 1 and {MAX_PAGE_LIMIT}")
    if not isinstance(page, int) or page < 1:
        errors.append("page must be a positive number")
    elif isinstance(limit, int) and after is None and page * limit > MAX_WINDOW:
        errors.append(f"page * pageLimit must not exceed {MAX_WINDOW}; use searchAfter")
    if after is not None and (not isinstance(after, list) or len(after) != 2):
        errors.append("searchAfter must be the array returned with a contact")
    sort = body.get("sort") or [{"field": "dateAdded", "direction": "asc"}]
    first = sort[0] if isinstance(sort, list) and sort and isinstance(sort[0], Mapping) else {}
    if first.get("field") not in SORTABLE or first.get("direction", "asc") not in ("asc", "desc"):
        errors.append(f"sort.0.field must be one of: {', '.join(SORTABLE)}")
    if errors:
        raise unprocessable(errors)
    return Page(page, limit, after, str(first["field"]), first.get("direction") == "desc")


def sort_key(contact: StoredContact, field: str) -> tuple[Any, str]:
    if field == "dateAdded":
        return (contact.added_ms, contact.id)
    return (str(ATTRIBUTES[field](contact) or ""), contact.id)
