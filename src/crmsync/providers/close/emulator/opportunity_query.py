"""``GET /opportunity/``'s filters, as Close documents them.

Evaluated: ``lead_id``, ``user_id``, ``status_id``, ``status_label``, ``status_type``,
``value_period``, ``date_created``/``date_updated``/``date_won`` with ``__lt``, ``__gt``,
``__lte``, ``__gte``, ``_order_by`` (one of the sortable fields, ``-`` for descending),
``_fields``, ``_limit`` and ``_skip``. Close also documents ``query``, ``_group_by`` and
``lead_saved_search_id``: the emulator does not evaluate them, so it refuses them (and any other
parameter) with a 400 rather than answer with opportunities the caller asked not to get. The
aggregates Close adds to each page (``total_results``, ``count_by_value_period``,
``total_value_*``, ``expected_value_*``) are over every match.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from crmsync.providers.close.emulator.errors import invalid
from crmsync.providers.close.emulator.opportunities import PERIODS, Opportunity

PAGING = frozenset({"_skip", "_limit", "_fields"})
EXACT: dict[str, Callable[[Opportunity], str | None]] = {
    "lead_id": lambda o: o.lead_id,
    "user_id": lambda o: o.user_id,
    "status_id": lambda o: o.status.id,
    "status_label": lambda o: o.status.label,
    "status_type": lambda o: o.status.type,
    "value_period": lambda o: o.value_period,
}
DATES: dict[str, Callable[[Opportunity], str | None]] = {
    "date_created": lambda o: o.date_created,
    "date_updated": lambda o: o.date_updated,
    "date_won": lambda o: o.date_won,
}
COMPARE: dict[str, Callable[[datetime, datetime], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}
SORTABLE: dict[str, Callable[[Opportunity], Any]] = {
    "date_created": lambda o: o.date_created,
    "date_updated": lambda o: o.date_updated,
    "date_won": lambda o: o.date_won or "",
    "value": lambda o: o.value or 0,
    "confidence": lambda o: o.confidence,
}


def _moment(name: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(field_errors={name: "Not a valid date or datetime."}) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _dated(
    read: Callable[[Opportunity], str | None],
    compare: Callable[[datetime, datetime], bool],
    bound: datetime,
) -> Callable[[Opportunity], bool]:
    def test(opportunity: Opportunity) -> bool:
        value = read(opportunity)
        return value is not None and compare(_moment("date", value), bound)

    return test


def _equal(read: Callable[[Opportunity], str | None], wanted: str) -> Callable[[Opportunity], bool]:
    return lambda opportunity: read(opportunity) == wanted


def filtered(params: Mapping[str, str], found: Sequence[Opportunity]) -> list[Opportunity]:
    tests: list[Callable[[Opportunity], bool]] = []
    errors: dict[str, str] = {}
    for name, value in params.items():
        base, _, suffix = name.partition("__")
        if name in PAGING or name == "_order_by":
            continue
        if name in EXACT:
            if name == "status_type" and value not in ("active", "won", "lost"):
                errors[name] = "Not one of: active, lost, won."
            if name == "value_period" and value not in PERIODS:
                errors[name] = f"Not one of: {', '.join(PERIODS)}."
            tests.append(_equal(EXACT[name], value))
        elif base in DATES and suffix in COMPARE:
            tests.append(_dated(DATES[base], COMPARE[suffix], _moment(name, value)))
        else:
            errors[name] = "Not a filter the emulator evaluates on this endpoint."
    order = params.get("_order_by", "date_created")
    if order.removeprefix("-") not in SORTABLE:
        errors["_order_by"] = f"Not one of: {', '.join(sorted(SORTABLE))} (or with -)."
    if errors:
        raise invalid(field_errors=errors)
    kept = [o for o in found if all(test(o) for test in tests)]
    key = SORTABLE[order.removeprefix("-")]
    kept.sort(key=lambda o: (key(o), o.id), reverse=order.startswith("-"))
    return kept


def aggregates(kept: Sequence[Opportunity]) -> dict[str, Any]:
    """Close's totals over every match (values in cents; expected = value x confidence)."""
    body: dict[str, Any] = {
        "total_results": len(kept),
        "count_by_value_period": {p: 0 for p in PERIODS},
    }
    for period in PERIODS:
        of_period = [o for o in kept if o.value_period == period]
        body["count_by_value_period"][period] = len(of_period)
        body[f"total_value_{period}"] = sum(o.value or 0 for o in of_period)
        body[f"expected_value_{period}"] = sum(
            (o.value or 0) * o.confidence // 100 for o in of_period
        )
    monthly = {"monthly": 12}
    body["total_value_annualized"] = sum(
        (o.value or 0) * monthly.get(o.value_period, 1) for o in kept
    )
    body["expected_value_annualized"] = sum(
        (o.value or 0) * monthly.get(o.value_period, 1) * o.confidence // 100 for o in kept
    )
    return body
