"""Decides what a record read from a CRM changes: pure functions, no I/O (the inbound twin of
``planner``).

Each mapped field is compared three ways: the CRM's value now, the **shadow** (the value both
sides last agreed on, what crmsync last wrote or took), and who owns the field. A CRM value
equal to the shadow is no change, whoever made the write: crmsync's own writes never come back
as changes. A CRM value that differs is a change in the CRM:

* on a field the CRM owns, it is **taken**: the app side gets the value (an empty one empties
  it: ownership is absolute);
* on a field the app owns, it is **drift**: the shadow learns what the CRM holds, so that the
  next push puts the app's value back, and the drift is logged.

A record the app has never seen (no shadow) is a create: every mapped field with a value is
taken, whoever owns it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from crmsync.domain.mapping import FieldMap, FieldMaps, ValueKind


class Verdict(StrEnum):
    UNCHANGED = "unchanged"
    TAKEN = "taken"
    """The CRM owns the field (or the record is new): its value goes to the app."""
    DRIFT = "drift"
    """The app owns the field and the CRM changed it: the app's value is written back."""


@dataclass(frozen=True, slots=True)
class FieldVerdict:
    field: FieldMap
    verdict: Verdict
    crm_value: Any
    reason: str


@dataclass(frozen=True)
class Reconciled:
    taken: dict[str, Any]
    """Local field → value for the app side (user references as the app user's email)."""
    drift: list[str]
    """CRM fields whose app value is to be written back."""
    shadow: dict[str, Any]
    """CRM field → the value now agreed (what the CRM holds, for taken and drifted fields)."""
    verdicts: list[FieldVerdict] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.taken or self.drift)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()


def same(kind: ValueKind, a: Any, b: Any) -> bool:
    """Equal as values of ``kind``: CRMs hand numbers and booleans back as text, multi-select
    values as ``;``-joined text, and an unset value as null or empty."""
    if _empty(a) or _empty(b):
        return _empty(a) and _empty(b)
    if kind is ValueKind.MULTI_PICKLIST:
        return _options(a) == _options(b)
    if kind is ValueKind.BOOLEAN:
        return str(a).lower() == str(b).lower()
    if kind is ValueKind.NUMBER:
        try:
            return float(a) == float(b)
        except (TypeError, ValueError):
            return str(a) == str(b)
    return str(a) == str(b)


def _options(value: Any) -> frozenset[str]:
    items = value if isinstance(value, list | tuple | set | frozenset) else str(value).split(";")
    return frozenset(str(v).strip() for v in items if str(v).strip())


def reconcile(
    crm_values: Mapping[str, Any],
    mappings: FieldMaps,
    shadow: Mapping[str, Any] | None,
    reader: str,
    user_emails: Mapping[str, str],
    preserve_manual_edits: bool = False,
    stored: Callable[[str, Any], Any] | None = None,
) -> Reconciled:
    """What the CRM record ``crm_values`` (CRM field → value) changes, read from the endpoint
    ``reader``. ``user_emails`` maps the CRM's user ids to emails (user references);
    ``stored(crm_field, value)`` is what the CRM keeps when crmsync writes ``value`` (a CRM
    that truncates or reformats must not look as if a user edited the field); with manual edits
    preserved every field but the identity ones is the CRM's."""
    taken: dict[str, Any] = {}
    drift: list[str] = []
    new_shadow = dict(shadow or {})
    verdicts: list[FieldVerdict] = []
    for mapped in mappings.fields:
        if mapped.crm_field not in crm_values:
            continue  # not read: nothing known about it
        value = crm_values[mapped.crm_field]
        if shadow is None:
            if not _empty(value):
                taken[mapped.local_field] = _local_value(mapped, value, user_emails)
                new_shadow[mapped.crm_field] = value
                verdicts.append(FieldVerdict(mapped, Verdict.TAKEN, value, "a new record"))
            continue
        agreed = shadow.get(mapped.crm_field)
        if stored is not None:
            agreed = stored(mapped.crm_field, agreed)
        if same(mapped.kind, value, agreed):
            continue
        new_shadow[mapped.crm_field] = value
        owned = mapped.source_of_truth == reader or (preserve_manual_edits and not mapped.identity)
        if owned:
            taken[mapped.local_field] = _local_value(mapped, value, user_emails)
            verdicts.append(FieldVerdict(mapped, Verdict.TAKEN, value, "the CRM owns the field"))
        else:
            drift.append(mapped.crm_field)
            verdicts.append(
                FieldVerdict(
                    mapped, Verdict.DRIFT, value, "the app owns the field: its value goes back"
                )
            )
    return Reconciled(taken, drift, new_shadow, verdicts)


def _local_value(mapped: FieldMap, value: Any, user_emails: Mapping[str, str]) -> Any:
    if _empty(value):
        return None
    if mapped.kind is ValueKind.USER:
        return user_emails.get(str(value))
    return value
