"""The contact's page in the emulated HubSpot UI, at the real record URL's path."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from crmsync.emulation.record_page import missing_record_page, record_page
from crmsync.providers.hubspot.emulator.errors import HubSpotError
from crmsync.providers.hubspot.emulator.routes_oauth import BRAND
from crmsync.providers.hubspot.emulator.state import HubSpotEmulator

router = APIRouter(include_in_schema=False)


@router.get("/contacts/{portal_id}/record/0-1/{contact_id}")
def contact_page(portal_id: str, contact_id: str, request: Request) -> HTMLResponse:
    emulator: HubSpotEmulator = request.app.state.emulator
    if portal_id != emulator.account_id:
        return missing_record_page("HubSpot", BRAND, contact_id)
    try:
        contact = emulator.store.get(contact_id)
    except HubSpotError:
        return missing_record_page("HubSpot", BRAND, contact_id)
    props = contact.properties
    name = " ".join(p for p in (props.get("firstname"), props.get("lastname")) if p)
    return record_page("HubSpot", BRAND, name or contact_id, sorted(props.items()), contact_id)
