"""``GET /activity/``: Close's activity list and its documented filters.

Close documents ``lead_id``, ``user_id(__in)``, ``contact_id(__in)``, ``_type(__in)``,
``date_created__gt/__lt``, ``activity_at__gt/__lt``, ``_order_by``, ``_fields``, ``_limit`` and
``_skip``; the user, contact and type filters only together with ``lead_id``. The emulator
evaluates all of them (and ``__gte``/``__lte`` on the dates); any other parameter is refused
with a 400 rather than ignored. Newest first unless ``_order_by`` says otherwise (Close's
default order is unconfirmed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from crmsync.providers.close.emulator.errors import invalid


class Activity(Protocol):
    """Any activity the list holds: ``Created``, notes, calls, emails, meetings."""

    @property
    def id(self) -> str: ...
    @property
    def lead_id(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def contact_id(self) -> str | None: ...
    @property
    def type(self) -> str: ...
    @property
    def date_created(self) -> str: ...
    def as_json(self) -> dict[str, Any]: ...


A = TypeVar("A", bound=Activity)

PAGING = frozenset({"_skip", "_limit", "_fields"})
LEAD_ONLY = ("user_id", "contact_id", "_type")
DATES = ("date_created", "activity_at")
COMPARISONS: dict[str, Callable[[datetime, datetime], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}
ORDERS = frozenset({"date_created", "-date_created", "activity_at", "-activity_at"})


def _moment(name: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise invalid(field_errors={name: "Not a valid date or datetime."}) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _listed(value: str) -> set[str]:
    return {item.strip() for item in value.split(",") if item.strip()}


def _within(attribute: str, wanted: set[str]) -> Callable[[Activity], bool]:
    return lambda activity: str(getattr(activity, attribute)) in wanted


def _dated(
    compare: Callable[[datetime, datetime], bool], moment: datetime
) -> Callable[[Activity], bool]:
    # the emulator's activities happen when they are logged: activity_at is date_created
    return lambda activity: compare(_moment("date_created", activity.date_created), moment)


def filtered(params: Mapping[str, str], activities: Sequence[A]) -> list[A]:
    """The activities the filters in ``params`` keep, in the order asked for."""
    tests: list[Callable[[A], bool]] = []
    lead_id = params.get("lead_id")
    if lead_id is not None:
        tests.append(lambda a: a.lead_id == lead_id)
    order = params.get("_order_by", "-date_created")
    for name, value in params.items():
        if name in PAGING or name in ("lead_id", "_order_by"):
            continue
        base, _, suffix = name.partition("__")
        if base in LEAD_ONLY and suffix in ("", "in"):
            if lead_id is None:
                raise invalid(field_errors={name: "This filter needs lead_id as well."})
            wanted = _listed(value) if suffix == "in" else {value}
            tests.append(_within("type" if base == "_type" else base, wanted))
        elif base in DATES and suffix in COMPARISONS:
            tests.append(_dated(COMPARISONS[suffix], _moment(name, value)))
        else:
            raise invalid(field_errors={name: "Not a filter of this endpoint."})
    if order not in ORDERS:
        raise invalid(field_errors={"_order_by": f"Not one of {', '.join(sorted(ORDERS))}."})
    kept = [a for a in activities if all(test(a) for test in tests)]
    kept.sort(key=lambda a: (a.date_created, a.id), reverse=order.startswith("-"))
    return kept
