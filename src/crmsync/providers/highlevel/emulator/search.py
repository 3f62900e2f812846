"""``POST /contacts/search``: HighLevel's filter language, parsed once and run over contacts.

Filters are ``{field, operator, value}`` or ``{group: "AND"|"OR", filters: [...]}``; the
top-level list is AND. Custom fields are addressed as ``customFields.{id}``. Equality on a
custom field is answered from an index, so a batch's Person ID lookup stays cheap however
many contacts a location holds. ``range`` takes ``{gt|gte|lt|lte: value}`` on the date fields
(``dateAdded``, ``dateUpdated``; an ISO-8601 string or epoch ms). Deleted contacts are found
only by a search that names ``deleted`` (``eq true``; that filter is unconfirmed). A filter
this module does not know is refused with a 422, never ignored.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any

from crmsync.providers.highlevel.emulator.errors import unprocessable
from crmsync.providers.highlevel.emulator.records import StoredContact

OPERATORS = ("eq", "not_eq", "contains", "not_contains", "exists", "not_exists", "range")
RANGE_KEYS = ("gt", "gte", "lt", "lte")
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
DATES: Mapping[str, Callable[[StoredContact], int]] = {
    "dateAdded": lambda c: c.added_ms,
    "dateUpdated": lambda c: c.updated_ms,
}
"""Fields ``range`` works on, and the sort value of their ``searchAfter`` (epoch ms)."""
DELETED = "deleted"
SORTABLE = ("dateAdded", "dateUpdated", "firstNameLowerCase", "lastNameLowerCase", "email")

Predicate = Callable[[StoredContact], bool]
CustomIndex = Callable[[str, str], set[str]]
"""``(custom field id, value)`` → ids of contacts holding that value."""


@dataclass(frozen=True)
class Query:
    predicate: Predicate
    candidates: Callable[[CustomIndex], set[str] | None]
    """Contact ids that can match, from the index; None means every contact."""
    deleted: bool = False
    """The filters name ``deleted``: deleted contacts are searched too."""


def _getter(field: str, custom_ids: set[str], where: str) -> Callable[[StoredContact], Any]:
    if field.startswith("customFields."):
        field_id = field.removeprefix("customFields.")
        if field_id not in custom_ids:
            raise unprocessable([f"{where}.field {field} is not a custom field of this location"])
        return lambda c: c.custom.get(field_id) or None
    if field not in ATTRIBUTES:
        raise unprocessable([f"{where}.field {field} is not supported"])
    return ATTRIBUTES[field]


def epoch_ms(value: Any, where: str) -> int:
    """A date bound: epoch ms, or ISO-8601 as HighLevel writes its dates."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise unprocessable([f"{where} must be a date string or epoch milliseconds"])
    if not isinstance(value, str):
        return int(value)
    if len(value) > MAX_VALUE_LENGTH:
        raise unprocessable([f"{where} must be at most {MAX_VALUE_LENGTH} characters"])
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise unprocessable([f"{where} must be a date string or epoch milliseconds"]) from exc
    if moment.tzinfo is None:
        raise unprocessable([f"{where} must name its time zone (e.g. Z)"])
    return int(moment.timestamp() * 1000)


def _range(field: str, value: Any, where: str) -> Query:
    if field not in DATES:  # message unconfirmed
        raise unprocessable([f"{where}.operator range is not supported for {field}"])
    if not isinstance(value, Mapping) or not value or set(value) - set(RANGE_KEYS):
        raise unprocessable([f"{where}.value must be an object of {', '.join(RANGE_KEYS)}"])
    bounds = {key: epoch_ms(bound, f"{where}.value.{key}") for key, bound in value.items()}
    get = DATES[field]

    def inside(contact: StoredContact) -> bool:
        at = get(contact)
        return (
            ("gt" not in bounds or at > bounds["gt"])
            and ("gte" not in bounds or at >= bounds["gte"])
            and ("lt" not in bounds or at < bounds["lt"])
            and ("lte" not in bounds or at <= bounds["lte"])
        )

    return Query(inside, lambda _index: None)


def _deleted(operator: Any, value: Any, where: str) -> Query:
    if operator != "eq" or not isinstance(value, bool):
        raise unprocessable([f"{where}: deleted takes only eq with true or false"])
    return Query(lambda c: c.deleted is value, lambda _index: None, deleted=True)


def _condition(spec: Mapping[str, Any], custom_ids: set[str], where: str) -> Query:
    field, operator, value = spec.get("field"), spec.get("operator"), spec.get("value")
    if not isinstance(field, str):
        raise unprocessable([f"{where}.field must be a string"])
    if operator not in OPERATORS:
        raise unprocessable([f"{where}.operator must be one of: {', '.join(OPERATORS)}"])
    if field == DELETED:
        return _deleted(operator, value, where)
    if operator == "range":
        return _range(field, value, where)
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
    deleted = any(p.deleted for p in parts)
    if kind == "AND":
        return Query(
            lambda c: all(p.predicate(c) for p in parts),
            lambda index: _intersect([p.candidates(index) for p in parts]),
            deleted,
        )
    return Query(
        lambda c: any(p.predicate(c) for p in parts),
        lambda index: _union([p.candidates(index) for p in parts]),
        deleted,
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
    if after is not None and "page" in body:  # "Do not include page when using searchAfter"
        errors.append("page must not be sent with searchAfter")
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
    elif isinstance(after, list) and len(after) == 2 and not _after_fits(after, first["field"]):
        errors.append("searchAfter must be the array returned with a contact")
    if errors:
        raise unprocessable(errors)
    return Page(page, limit, after, str(first["field"]), first.get("direction") == "desc")


def _after_fits(after: list[Any], field: str) -> bool:
    """A ``searchAfter`` of this sort: its value (a number for dates) and a contact id."""
    value, contact_id = after
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(contact_id, str) and (number if field in DATES else isinstance(value, str))


def key_of(field: str) -> Callable[[StoredContact], tuple[Any, str]]:
    """A sort's key: its value (epoch ms for dates) and the contact's id, as ``searchAfter``."""
    if field in DATES:
        date = DATES[field]
        return lambda c: (date(c), c.id)
    attribute = ATTRIBUTES[field]
    return lambda c: (str(attribute(c) or ""), c.id)


def one_page(matches: Sequence[StoredContact], page: Page) -> list[dict[str, Any]]:
    """The page of ``matches`` asked for, in the sort asked for, each with its cursor (the
    page picked from a heap: a search of thousands sorts only what it returns)."""
    key = key_of(page.sort_field)
    keyed: Iterable[tuple[tuple[Any, str], StoredContact]] = ((key(c), c) for c in matches)
    start = 0
    if page.search_after is not None:
        cursor = tuple(page.search_after)
        keyed = (kc for kc in keyed if (kc[0] < cursor if page.descending else kc[0] > cursor))
    else:
        start = (page.page - 1) * page.limit
    pick = heapq.nlargest if page.descending else heapq.nsmallest
    chosen = pick(start + page.limit, keyed, key=itemgetter(0))
    return [c.search_json(k) for k, c in chosen[start:]]
