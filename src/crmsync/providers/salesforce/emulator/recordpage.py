"""A Lead's (or Contact's) page in the emulated Lightning UI, at the real record URL's path."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from crmsync.emulation.record_page import missing_record_page, record_page
from crmsync.providers.salesforce.emulator.errors import SalesforceError
from crmsync.providers.salesforce.emulator.routes_oauth import BRAND
from crmsync.providers.salesforce.emulator.state import SalesforceEmulator

router = APIRouter(include_in_schema=False)


@router.get("/lightning/r/{sobject}/{record_id}/view")
def record_view(sobject: str, record_id: str, request: Request) -> HTMLResponse:
    emulator: SalesforceEmulator = request.app.state.emulator
    try:
        row = emulator.store.get(sobject, record_id)
    except SalesforceError:
        return missing_record_page("Salesforce", BRAND, record_id)
    name = " ".join(str(row[k]) for k in ("FirstName", "LastName") if row.get(k))
    fields = sorted((k, v) for k, v in row.items() if k != "attributes")
    return record_page("Salesforce", BRAND, name or record_id, fields, record_id)
