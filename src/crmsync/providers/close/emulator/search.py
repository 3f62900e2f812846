"""``POST /data/search/``: Close's advanced-filtering query tree over leads and contacts.

Supported: ``and`` / ``or`` / ``object_type`` / ``field_condition`` queries (each may carry
``negate``), on ``regular_field`` and ``custom_field`` fields, with ``term``, ``text`` and
``exists`` conditions; ``_fields`` per object type, ``_limit`` and cursor paging. Anything else
is answered with a 400 rather than silently matching nothing. Results are returned at once:
Close's search index lags its writes by a moment, which this emulator does not model.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from crmsync.providers.close.emulator.errors import invalid
from crmsync.providers.close.emulator.records import Contact, Lead

MAX_LIMIT = 200
DEFAULT_LIMIT = 10
OBJECT_TYPES = ("lead", "contact")
TEXT_MODES = frozenset({"exact_value", "full_words", "phrase", "beginning_of_words"})
Renderer = Callable[[Any, Sequence[str] | None], dict[str, Any]]


def _check(query: Any, path: str = "query") -> None:
    """Reject what the emulator does not understand before looking at any object."""
    if not isinstance(query, dict):
        raise invalid(field_errors={path: "Not a valid query."})
    kind = query.get("type")
    if kind in ("and", "or"):
        queries = query.get("queries")
        if not isinstance(queries, list):
            raise invalid(field_errors={f"{path}.queries": "Not a valid list."})
        for index, sub in enumerate(queries):
            _check(sub, f"{path}.queries.{index}")
    elif kind == "object_type":
        if query.get("object_type") not in OBJECT_TYPES:
            raise invalid(field_errors={f"{path}.object_type": "Not a supported object type."})
    elif kind == "field_condition":
        field, condition = query.get("field"), query.get("condition")
        if not isinstance(field, dict) or field.get("type") not in (
            "regular_field",
            "custom_field",
        ):
            raise invalid(field_errors={f"{path}.field": "Not a supported field."})
        if not isinstance(condition, dict) or condition.get("type") not in (
            "term",
            "text",
            "exists",
        ):
            raise invalid(field_errors={f"{path}.condition": "Not a supported condition."})
        if condition["type"] == "term" and not isinstance(condition.get("values"), list):
            raise invalid(field_errors={f"{path}.condition.values": "Not a valid list."})
        if condition["type"] == "text" and condition.get("mode") not in TEXT_MODES:
            raise invalid(field_errors={f"{path}.condition.mode": "Not a supported mode."})
    else:
        raise invalid([f"Unsupported query type: {kind!r}."])


def _value(field: Mapping[str, Any], obj: Lead | Contact, kind: str) -> Any:
    if field["type"] == "custom_field":
        custom: Mapping[str, Any] = getattr(obj, "custom", {})
        return custom.get(str(field.get("custom_field_id")))
    if field.get("object_type") not in (None, kind):
        return None
    return obj.regular(str(field.get("field_name")))


def _holds(condition: Mapping[str, Any], value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    present = [v for v in values if v not in (None, "")]
    kind = condition["type"]
    if kind == "exists":
        return bool(present)
    if kind == "term":
        wanted = {str(v) for v in condition["values"]}
        return any(str(v) in wanted for v in present)
    text = str(condition.get("value") or "").lower()
    if condition["mode"] == "exact_value":
        return any(str(v).lower() == text for v in present)
    if condition["mode"] == "full_words":
        return any(set(text.split()) <= set(str(v).lower().split()) for v in present)
    return any(text in str(v).lower() for v in present)


def _matches(query: Mapping[str, Any], obj: Lead | Contact, kind: str) -> bool:
    match query["type"]:
        case "and":
            result = all(_matches(q, obj, kind) for q in query["queries"])
        case "or":
            result = any(_matches(q, obj, kind) for q in query["queries"])
        case "object_type":
            result = query["object_type"] == kind
        case _:
            result = _holds(query["condition"], _value(query["field"], obj, kind))
    return result != bool(query.get("negate"))


def required_terms(query: Any) -> tuple[str, frozenset[str]] | None:
    """A custom field and the values one of which every hit of ``query`` must hold, when the
    query requires that (a non-negated ``term`` condition, alone or inside a non-negated
    ``and``); None otherwise. The store answers such a query from its value index instead of
    scanning every object; ``_matches`` still checks each candidate."""
    if not isinstance(query, dict) or query.get("negate"):
        return None
    if query.get("type") == "and" and isinstance(query.get("queries"), list):
        for sub in query["queries"]:
            found = required_terms(sub)
            if found is not None:
                return found
        return None
    field, condition = query.get("field"), query.get("condition")
    if (
        query.get("type") == "field_condition"
        and isinstance(field, dict)
        and field.get("type") == "custom_field"
        and isinstance(condition, dict)
        and condition.get("type") == "term"
        and isinstance(condition.get("values"), list)
    ):
        wanted = frozenset(str(v) for v in condition["values"])
        return str(field.get("custom_field_id")), wanted
    return None


def _offset(cursor: Any) -> int:
    if cursor in (None, ""):
        return 0
    try:
        return int(base64.urlsafe_b64decode(str(cursor).encode()).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid(field_errors={"cursor": "Invalid cursor."}) from None


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def run(
    body: Mapping[str, Any],
    *,
    leads: Sequence[Lead],
    contacts: Sequence[Contact],
    render: Mapping[str, Renderer],
) -> dict[str, Any]:
    """``{"data": [{"__object_type", "id", …_fields}], "cursor": next page or None}``."""
    query = body.get("query")
    _check(query)
    assert isinstance(query, dict)
    limit = body.get("_limit", DEFAULT_LIMIT)
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise invalid(field_errors={"_limit": f"Must be between 1 and {MAX_LIMIT}."})
    wanted = body.get("_fields") or {}
    if not isinstance(wanted, dict):
        raise invalid(field_errors={"_fields": "Not a valid mapping of object type to fields."})
    candidates = [("lead", lead) for lead in leads] + [("contact", c) for c in contacts]
    candidates.sort(key=lambda pair: (pair[1].date_created, pair[1].id))
    hits = [(kind, obj) for kind, obj in candidates if _matches(query, obj, kind)]
    start = _offset(body.get("cursor"))
    data = [
        {"__object_type": kind, **render[kind](obj, list(wanted.get(kind) or ["id"]))}
        for kind, obj in hits[start : start + limit]
    ]
    more = start + limit < len(hits)
    return {"data": data, "cursor": _cursor(start + limit) if more else None}
