"""CRM search: ``filterGroups`` (groups OR'ed, filters AND'ed), one sort, offset paging.

Limits as HubSpot: at most 5 groups, 10 filters per group, one sort, 200 results per page, and
no paging past the first 10,000 results (a 400). Contacts that tie on the sort come in id
order here; HubSpot promises no order among ties, so a reader must not rely on it.
String comparisons ignore case; date properties compare as
timestamps (epoch milliseconds or ISO-8601).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from crmsync.providers.hubspot.emulator.errors import validation_error
from crmsync.providers.hubspot.emulator.properties import PropertyDef
from crmsync.providers.hubspot.emulator.records import StoredContact
from crmsync.providers.hubspot.emulator.values import to_millis

MAX_GROUPS = 5
MAX_FILTERS = 10
MAX_LIMIT = 200
RESULT_CAP = 10_000
QUERY_PROPERTIES = ("email", "firstname", "lastname", "phone", "company", "mobilephone")

Operator = Literal[
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
]


class SearchFilter(BaseModel):
    model_config = ConfigDict(extra="ignore")

    propertyName: str
    operator: Operator
    value: str | int | float | bool | None = None
    highValue: str | int | float | bool | None = None
    values: list[str | int | float | bool] | None = None


class FilterGroup(BaseModel):
    model_config = ConfigDict(extra="ignore")

    filters: list[SearchFilter] = Field(default_factory=list)


class SearchSort(BaseModel):
    model_config = ConfigDict(extra="ignore")

    propertyName: str
    direction: Literal["ASCENDING", "DESCENDING"] = "ASCENDING"


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    filterGroups: list[FilterGroup] = Field(default_factory=list)
    sorts: list[SearchSort | str] = Field(default_factory=list)
    properties: list[str] | None = None
    limit: int = Field(default=10, ge=0)
    after: str | int | None = None
    query: str | None = None


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


Comparable = tuple[int, float, str]


def _key(definition: PropertyDef | None, value: str) -> Comparable:
    """Numbers and dates compare numerically, everything else as lower-case text."""
    if definition is not None and definition.type in ("number", "date", "datetime"):
        number = to_millis(value) if definition.type != "number" else _float(value)
        if number is not None:
            return (0, number, "")
    return (1, 0.0, value.lower())


def _float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _tokens(value: str) -> list[str]:
    return [token for token in re.split(r"[\s,;]+", value.lower()) if token]


def _contains_token(have: str, pattern: str) -> bool:
    pattern = pattern.lower()
    return fnmatch.fnmatchcase(have.lower(), pattern) or any(
        fnmatch.fnmatchcase(token, pattern) for token in _tokens(have)
    )


def _predicate(
    f: SearchFilter, definitions: Mapping[str, PropertyDef]
) -> Callable[[StoredContact], bool]:
    definition = definitions.get(f.propertyName)
    op = f.operator
    if op in ("IN", "NOT_IN"):
        if not f.values:
            raise validation_error(f"{op} filter on '{f.propertyName}' requires values")
        wanted = {_key(definition, _text(v)) for v in f.values}
    elif op not in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        if f.value is None:
            raise validation_error(f"{op} filter on '{f.propertyName}' requires a value")
        if op == "BETWEEN" and f.highValue is None:
            raise validation_error(f"BETWEEN filter on '{f.propertyName}' requires a highValue")
    low = _key(definition, _text(f.value)) if f.value is not None else None
    high = _key(definition, _text(f.highValue)) if f.highValue is not None else None

    def check(contact: StoredContact) -> bool:
        have = contact.properties.get(f.propertyName)
        if op == "HAS_PROPERTY":
            return have is not None
        if op == "NOT_HAS_PROPERTY":
            return have is None
        if op == "NEQ":
            return have is None or _key(definition, have) != low
        if op == "NOT_IN":
            return have is None or _key(definition, have) not in wanted
        if op == "NOT_CONTAINS_TOKEN":
            return have is None or not _contains_token(have, _text(f.value))
        if have is None:
            return False
        key = _key(definition, have)
        match op:
            case "EQ":
                return key == low
            case "IN":
                return key in wanted
            case "CONTAINS_TOKEN":
                return _contains_token(have, _text(f.value))
            case "LT":
                return low is not None and key < low
            case "LTE":
                return low is not None and key <= low
            case "GT":
                return low is not None and key > low
            case "GTE":
                return low is not None and key >= low
            case _:  # BETWEEN
                return low is not None and high is not None and low <= key <= high

    return check


def _query_matches(contact: StoredContact, query: str) -> bool:
    needle = query.lower()
    return any(needle in contact.properties.get(p, "").lower() for p in QUERY_PROPERTIES)


def search(
    request: SearchRequest,
    contacts: Sequence[StoredContact],
    definitions: Mapping[str, PropertyDef],
) -> dict[str, Any]:
    """The ``POST /crm/v3/objects/contacts/search`` response body, or HubSpotError 400."""
    if len(request.filterGroups) > MAX_GROUPS:
        raise validation_error(f"Too many filter groups: at most {MAX_GROUPS} are allowed.")
    if any(len(group.filters) > MAX_FILTERS for group in request.filterGroups):
        raise validation_error(f"Too many filters in a group: at most {MAX_FILTERS} are allowed.")
    if request.limit > MAX_LIMIT:
        raise validation_error(f"limit must be less than or equal to {MAX_LIMIT}")
    if len(request.sorts) > 1:
        raise validation_error("At most one sort is allowed.")
    after = str(request.after) if request.after is not None else ""
    if after and not after.isdigit():
        raise validation_error(f"after must be a non-negative integer, not {after!r}")
    offset = int(after) if after else 0
    if offset + request.limit > RESULT_CAP:
        raise validation_error(f"Paging is limited to the first {RESULT_CAP} results.")
    _check_known(request, definitions)
    groups = [[_predicate(f, definitions) for f in group.filters] for group in request.filterGroups]
    matched = [
        c
        for c in contacts
        if (not groups or any(all(p(c) for p in group) for group in groups if group))
        and (not request.query or _query_matches(c, request.query))
    ]
    matched = _sorted(matched, request.sorts, definitions)
    page = matched[offset : offset + request.limit]
    body: dict[str, Any] = {
        "total": len(matched),
        "results": [c.as_json(request.properties) for c in page],
    }
    next_offset = offset + len(page)
    if next_offset < len(matched) and next_offset < RESULT_CAP and page:
        body["paging"] = {"next": {"after": str(next_offset)}}
    return body


def _check_known(request: SearchRequest, definitions: Mapping[str, PropertyDef]) -> None:
    """A filter or sort on a property the portal lacks is refused, never ignored (ignoring
    it would answer more, or in another order, than was asked). The message is a guess."""
    named = [f.propertyName for group in request.filterGroups for f in group.filters]
    named += [s if isinstance(s, str) else s.propertyName for s in request.sorts]
    for name in named:
        if name.lstrip("-") not in definitions:
            raise validation_error(
                f"There was a problem with the request: property {name.lstrip('-')!r} "
                "does not exist and cannot be used in a filter or sort."
            )


def _sorted(
    contacts: list[StoredContact],
    sorts: Sequence[SearchSort | str],
    definitions: Mapping[str, PropertyDef],
) -> list[StoredContact]:
    """By id unless one sort is given; a plain string sort may start with ``-`` (descending)."""
    contacts = sorted(contacts, key=lambda c: int(c.id))
    if not sorts:
        return contacts
    sort = sorts[0]
    if isinstance(sort, str):
        descending = sort.startswith("-")
        sort = SearchSort(
            propertyName=sort.lstrip("-"), direction="DESCENDING" if descending else "ASCENDING"
        )
    name = sort.propertyName
    definition = definitions.get(name)
    present = [c for c in contacts if c.properties.get(name) is not None]
    absent = [c for c in contacts if c.properties.get(name) is None]
    present.sort(
        key=lambda c: _key(definition, c.properties[name]),
        reverse=sort.direction == "DESCENDING",
    )
    return present + absent
