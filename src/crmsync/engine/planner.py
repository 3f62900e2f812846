"""Decides what to write for one record: pure functions, no I/O.

A record's create writes every mapped field that has a value, owner included. Later writes send
only the CRM fields whose desired value differs from what crmsync last wrote there, and of those
only the ones the writing endpoint owns (``FieldMaps.writes_on_update``): edits made in the CRM to
fields crmsync did not change survive, and a field the CRM owns is written once, at the create.
With ``preserve_manual_edits`` only the identity fields are written after the create.

The connection's export mode (``domain.modes.ExportMode``) is decided here too, once for every
connector: ``match_existing_import_new`` never updates a record the CRM has (``ignored``).
``plan_person`` is the whole decision for one contact, shared by the batch planner and the
preview, so a preview can never disagree with the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crmsync.domain.mapping import APP, FieldMaps
from crmsync.domain.modes import ExportMode
from crmsync.domain.writes import Plan
from crmsync.engine.contacts import OWNER, contact_values


def desired_fields(
    values: Mapping[str, Any], mappings: FieldMaps, users: Mapping[str, str]
) -> dict[str, Any]:
    """CRM field → value for every mapped field. A user reference (the app user's email) is
    translated to the CRM's user id through ``users`` (lower-cased email → id); a user the CRM
    does not have is None, and a create leaves the field unset."""
    out: dict[str, Any] = {}
    translate = mappings.users
    for field in mappings.fields:
        value = values.get(field.local_field)
        if field.crm_field in translate:
            value = users.get(value.lower()) if isinstance(value, str) else None
        out[field.crm_field] = value
    return out


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def plan_write(
    desired: Mapping[str, Any],
    mappings: FieldMaps,
    written: Mapping[str, Any] | None,
    preserve_manual_edits: bool,
    writer: str = APP,
    mode: ExportMode = ExportMode.ALL,
    assigned: frozenset[str] = frozenset(),
) -> Plan:
    """What to send from ``writer``, given what was last written (``None``: never written).

    ``assigned`` are CRM fields the app was explicitly told to change (an owner a to-do
    assigned): an update writes them though the CRM owns them, manual edits preserved or not."""
    if written is None:
        return Plan({k: v for k, v in desired.items() if not _empty(v)}, first_write=True)
    if mode is ExportMode.MATCH_EXISTING_IMPORT_NEW:
        reason = f"export mode {mode}: a record the CRM has is never updated"
        return Plan({}, first_write=False, reason=reason, ignored=True)
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
        if crm_field in assigned or mappings.writes_on_update(
            crm_field, writer, preserve_manual_edits
        ):
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


def plan_person(
    person: Mapping[Any, Any],
    owner_email: str | None,
    link: Mapping[Any, Any] | None,
    mappings: FieldMaps,
    owners: Mapping[str, str],
    context: PlanContext,
    owner_assigned: bool = False,
) -> tuple[dict[str, Any], Plan]:
    """One contact's desired CRM values and its plan, from its ``people`` row, owner, link
    (``crm_id`` and ``written``) and the CRM's users (``owners``: email → CRM user id).
    ``owner_assigned``: the host assigned ``owner_email`` (a to-do), so the owner is written
    even where the CRM owns it."""
    values = contact_values(person, owner_email, context.profile_url_template)
    desired = desired_fields(values, mappings, owners)
    crm_id = link["crm_id"] if link is not None else None
    written = dict(link["written"]) if link is not None and crm_id else None
    forced = owner_fields(desired, mappings) if owner_assigned else frozenset()
    plan = plan_write(
        desired, mappings, written, context.preserve, context.writer, context.mode, forced
    )
    return desired, plan


def owner_fields(desired: Mapping[str, Any], mappings: FieldMaps) -> frozenset[str]:
    """The owner fields an assignment writes: those the CRM has a user for (an owner the CRM
    does not know leaves the record's owner as it is)."""
    return frozenset(
        f.crm_field
        for f in mappings.fields
        if f.local_field == OWNER and desired.get(f.crm_field) is not None
    )


@dataclass(frozen=True)
class PlanContext:
    """What a connection's plans depend on beyond the record."""

    preserve: bool
    writer: str
    mode: ExportMode
    profile_url_template: str
