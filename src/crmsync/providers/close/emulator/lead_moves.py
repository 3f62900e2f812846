"""What follows a lead that is merged or deleted, beyond its contacts (``CloseStore`` moves
those): its opportunities, notes, calls, emails, meetings and tasks, each with its event."""

from __future__ import annotations

from crmsync.providers.close.emulator.eventlog import Actor
from crmsync.providers.close.emulator.state import CloseEmulator


def merge(emulator: CloseEmulator, org_id: str, source: str, destination: str, who: Actor) -> None:
    """``POST /lead/merge/``: the store merges (and checks) first; then the rest moves."""
    emulator.store.merge_leads(org_id, source, destination, who)
    emulator.opportunities.follow_merge(org_id, source, destination, who)
    emulator.logged.follow_merge(org_id, source, destination, who)
    notes = emulator.notes
    with notes.lock:
        moved = [n for n in notes.notes.values() if n.organization_id == org_id]
        moved = [n for n in moved if n.lead_id == source]
    for note in moved:
        before = note.as_json()
        note.lead_id, note.date_updated = destination, emulator.store.now()
        emulator.journal.log(org_id, "activity.note", "updated", who, note.as_json(), before)


def delete(emulator: CloseEmulator, org_id: str, lead_id: str, who: Actor) -> None:
    """``DELETE /lead/{id}/``: the lead with everything on it."""
    emulator.store.delete_lead(org_id, lead_id, who)
    emulator.opportunities.drop_lead(org_id, lead_id, who)
    emulator.logged.drop_lead(org_id, lead_id, who)
    notes = emulator.notes
    with notes.lock:
        dropped = [n for n in notes.notes.values() if n.organization_id == org_id]
        dropped = [n for n in dropped if n.lead_id == lead_id]
        for note in dropped:
            del notes.notes[note.id]
    for note in dropped:
        emulator.journal.log(org_id, "activity.note", "deleted", who, note.as_json())
