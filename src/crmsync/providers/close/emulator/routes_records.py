"""Leads (with nested contacts) and contacts: create, read, update and list, as on Close."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse

from crmsync.emulation import EmulatedRoute
from crmsync.providers.close.emulator.common import (
    MAX_PAGE,
    CallerDep,
    EmulatorDep,
    split_fields,
    user_id,
)

Payload = Annotated[dict[str, Any], Body()]
Skip = Annotated[int, Query(alias="_skip", ge=0)]
Limit = Annotated[int, Query(alias="_limit", ge=1, le=MAX_PAGE)]
FieldsQuery = Annotated[str | None, Query(alias="_fields")]

router = APIRouter(prefix="/api/v1", route_class=EmulatedRoute, tags=["leads and contacts"])


def _page(
    emulator: EmulatorDep, caller: CallerDep, kind: str, skip: int, limit: int, fields: str | None
) -> JSONResponse:
    data, more = emulator.store.page(
        caller.organization_id, kind, skip, limit, split_fields(fields)
    )
    return JSONResponse({"data": data, "has_more": more})


@router.get("/lead/")
def list_leads(
    emulator: EmulatorDep,
    caller: CallerDep,
    skip: Skip = 0,
    limit: Limit = 100,
    fields: FieldsQuery = None,
) -> JSONResponse:
    return _page(emulator, caller, "lead", skip, limit, fields)


@router.post("/lead/")
def create_lead(payload: Payload, emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    """The lead and every nested contact in one write; all or nothing."""
    lead = emulator.store.create_lead(caller.organization_id, payload, user_id(emulator, caller))
    return JSONResponse(lead)


@router.get("/lead/{lead_id}/")
def get_lead(
    lead_id: str, emulator: EmulatorDep, caller: CallerDep, fields: FieldsQuery = None
) -> JSONResponse:
    return JSONResponse(
        emulator.store.get_lead(caller.organization_id, lead_id, split_fields(fields))
    )


@router.put("/lead/{lead_id}/")
def update_lead(
    lead_id: str, payload: Payload, emulator: EmulatorDep, caller: CallerDep
) -> JSONResponse:
    lead = emulator.store.update_lead(
        caller.organization_id, lead_id, payload, user_id(emulator, caller)
    )
    return JSONResponse(lead)


@router.get("/contact/")
def list_contacts(
    emulator: EmulatorDep,
    caller: CallerDep,
    skip: Skip = 0,
    limit: Limit = 100,
    fields: FieldsQuery = None,
) -> JSONResponse:
    return _page(emulator, caller, "contact", skip, limit, fields)


@router.post("/contact/")
def create_contact(payload: Payload, emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    contact = emulator.store.create_contact(
        caller.organization_id, payload, user_id(emulator, caller)
    )
    return JSONResponse(contact)


@router.get("/contact/{contact_id}/")
def get_contact(
    contact_id: str, emulator: EmulatorDep, caller: CallerDep, fields: FieldsQuery = None
) -> JSONResponse:
    return JSONResponse(
        emulator.store.get_contact(caller.organization_id, contact_id, split_fields(fields))
    )


@router.put("/contact/{contact_id}/")
def update_contact(
    contact_id: str, payload: Payload, emulator: EmulatorDep, caller: CallerDep
) -> JSONResponse:
    contact = emulator.store.update_contact(
        caller.organization_id, contact_id, payload, user_id(emulator, caller)
    )
    return JSONResponse(contact)
