"""Decides what to write for one person: pure functions, no I/O.

First write of a person: the full mapped payload, owner included. Later: only the CRM fields
whose desired value differs from what crmsync last wrote there, so edits made in the CRM to
fields crmsync did not change survive. With ``preserve_manual_edits`` (or a field whose source
of truth is the CRM) only the identity fields are written after the first create.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from crmsync.connectors.spec import IDENTITY_FIELDS
from crmsync.domain.enums import Direction, System


@dataclass(frozen=True, slots=True)
class MappedField:
    app_field: str
    crm_field: str
    direction: str
    source_of_truth: str
    pushes: bool = dataclasses.field(init=False)
    """Does crmsync write this field to the CRM? (read for every field of every record)"""

    def __post_init__(self) -> None:
        object.__setattr__(self, "pushes", self.direction in (Direction.PUSH, Direction.BOTH))


@dataclass(frozen=True)
class Plan:
    """``send`` is empty when nothing needs writing; ``reason`` says why."""

    send: dict[str, Any]
    first_write: bool
    reason: str = ""

    @property
    def unchanged(self) -> bool:
        return not self.send


def person_values(person: Mapping[Any, Any], profile_url_template: str) -> dict[str, Any]:
    """The app-side value of every mappable field (``owner`` is resolved separately), from a
    ``people`` row."""
    emails = list(person["emails"] or [])
    phones = list(person["phones"] or [])
    person_id = person["person_id"]
    return {
        "person_id": person_id,
        "profile_url": person["profile_url"] or profile_url_template.format(person_id=person_id),
        "first_name": person["first_name"],
        "last_name": person["last_name"],
        "email": emails[0] if emails else None,
        "emails": emails,
        "phone": phones[0] if phones else None,
        "phones": phones,
        "company": person["company"],
        "title": person["title"],
        "city": person["city"],
        "state": person["state"],
        "zip": person["zip"],
        "country": person["country"],
        "linkedin_url": person["linkedin_url"],
    }


def desired_fields(
    values: Mapping[str, Any], mappings: Iterable[MappedField], owner_crm_id: str | None
) -> dict[str, Any]:
    """CRM field → value for every pushed mapping."""
    out: dict[str, Any] = {}
    for field in mappings:
        if not field.pushes:
            continue
        out[field.crm_field] = (
            owner_crm_id if field.app_field == "owner" else values.get(field.app_field)
        )
    return out


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def plan_write(
    desired: Mapping[str, Any],
    mappings: Iterable[MappedField],
    written: Mapping[str, Any] | None,
    preserve_manual_edits: bool,
) -> Plan:
    """What to send, given what was last written (``None``: never written)."""
    if written is None:
        return Plan({k: v for k, v in desired.items() if not _empty(v)}, first_write=True)
    by_crm = {m.crm_field: m for m in mappings if m.pushes}
    changed = {
        k: v
        for k, v in desired.items()
        if written.get(k) != v and not (_empty(v) and _empty(written.get(k)))
    }
    if not changed:
        return Plan({}, first_write=False, reason="nothing changed since the last write")
    send: dict[str, Any] = {}
    held: list[str] = []
    for crm_field, value in changed.items():
        field = by_crm.get(crm_field)
        identity = field is not None and field.app_field in IDENTITY_FIELDS
        crm_owned = field is not None and field.source_of_truth == System.CRM
        if identity or not (preserve_manual_edits or crm_owned):
            send[crm_field] = value
        else:
            held.append(crm_field)
    if send:
        return Plan(send, first_write=False)
    why = "manual edits are preserved" if preserve_manual_edits else "the CRM owns these fields"
    return Plan({}, first_write=False, reason=f"{why}: not overwriting {', '.join(sorted(held))}")


def after_write(written: Mapping[str, Any] | None, sent: Mapping[str, Any]) -> dict[str, Any]:
    """What crmsync has written once ``sent`` landed."""
    return {**(written or {}), **sent}
