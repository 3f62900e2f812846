"""The contact's page in the emulated HighLevel UI, at the real record URL's path."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from crmsync.emulation.record_page import missing_record_page, record_page
from crmsync.providers.highlevel.emulator.errors import HighLevelError
from crmsync.providers.highlevel.emulator.routes_oauth import BRAND
from crmsync.providers.highlevel.emulator.state import HighLevelEmulator

router = APIRouter(include_in_schema=False)


@router.get("/v2/location/{location_id}/contacts/detail/{contact_id}")
def contact_page(location_id: str, contact_id: str, request: Request) -> HTMLResponse:
    emulator: HighLevelEmulator = request.app.state.emulator
    try:
        contact = emulator.store.get_contact(location_id, contact_id)
    except HighLevelError:
        return missing_record_page("HighLevel", BRAND, contact_id)
    names = {f.id: f.name for f in emulator.store.custom_fields(location_id)}
    fields = [
        *sorted(contact.attributes.items()),
        *sorted((names.get(key, key), value) for key, value in contact.custom.items()),
        ("assignedTo", contact.assigned_to),
    ]
    return record_page("HighLevel", BRAND, contact.name or contact_id, fields, contact_id)
