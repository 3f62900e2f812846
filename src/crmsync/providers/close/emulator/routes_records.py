"""Leads (with nested contacts) and contacts: create, read, update, delete and list, as on
Close. ``GET /lead/`` searches with ``query`` (see ``lead_query``); ``GET /contact/`` filters by
``lead_id``; any other parameter is refused."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse

from crmsync.emulation import EmulatedRoute
from crmsync.providers.close.emulator import lead_moves
from crmsync.providers.close.emulator.common import (
    MAX_PAGE,
    CallerDep,
    EmulatorDep,
    actor,
    refuse_other_parameters,
    split_fields,
    user_id,
)

Payload = Annotated[dict[str, Any], Body()]
Skip = Annotated[int, Query(alias="_skip", ge=0)]
Limit = Annotated[int, Query(alias="_limit", ge=1, le=MAX_PAGE)]
FieldsQuery = Annotated[str | None, Query(alias="_fields")]

router = APIRouter(prefix="/api/v1", route_class=EmulatedRoute, tags=["leads and contacts"])
PAGING = ("_skip", "_limit", "_fields")


@router.get("/lead/")
def list_leads(
    request: Request,
    emulator: EmulatorDep,
    caller: CallerDep,
    skip: Skip = 0,
    limit: Limit = 100,
    fields: FieldsQuery = None,
    query: str | None = None,
) -> JSONResponse:
    """Every lead, oldest first; with ``query``, the matches and ``total_results``."""
    refuse_other_parameters(request, (*PAGING, "query"))
    org_id, wanted = caller.organization_id, split_fields(fields)
    if query is None or not query.strip():
        data, more = emulator.store.page(org_id, "lead", skip, limit, wanted)
        return JSONResponse({"data": data, "has_more": more})
    data, more, total = emulator.store.query_leads(org_id, query, skip, limit, wanted)
    return JSONResponse({"data": data, "has_more": more, "total_results": total})


@router.post("/lead/")
def create_lead(payload: Payload, emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    """The lead and every nested contact in one write; all or nothing."""
    who = actor(emulator, caller)
    lead = emulator.store.create_lead(
        caller.organization_id, payload, who.user_id or "", who.api_key_id
    )
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
        caller.organization_id,
        lead_id,
        payload,
        user_id(emulator, caller),
        actor(emulator, caller).api_key_id,
    )
    return JSONResponse(lead)


@router.delete("/lead/{lead_id}/")
def delete_lead(lead_id: str, emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    """The lead, its contacts, opportunities, activities and tasks; Close answers an empty
    object."""
    lead_moves.delete(emulator, caller.organization_id, lead_id, actor(emulator, caller))
    return JSONResponse({})


@router.get("/contact/")
def list_contacts(
    request: Request,
    emulator: EmulatorDep,
    caller: CallerDep,
    skip: Skip = 0,
    limit: Limit = 100,
    fields: FieldsQuery = None,
    lead_id: str | None = None,
) -> JSONResponse:
    """Every contact (of one lead, with ``lead_id``), oldest first."""
    refuse_other_parameters(request, (*PAGING, "lead_id"))
    data, more = emulator.store.page(
        caller.organization_id, "contact", skip, limit, split_fields(fields), lead_id=lead_id
    )
    return JSONResponse({"data": data, "has_more": more})


@router.post("/contact/")
def create_contact(payload: Payload, emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    contact = emulator.store.create_contact(
        caller.organization_id,
        payload,
        user_id(emulator, caller),
        actor(emulator, caller).api_key_id,
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
        caller.organization_id,
        contact_id,
        payload,
        user_id(emulator, caller),
        actor(emulator, caller).api_key_id,
    )
    return JSONResponse(contact)


@router.delete("/contact/{contact_id}/")
def delete_contact(contact_id: str, emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    emulator.store.delete_contact(caller.organization_id, contact_id, actor(emulator, caller))
    return JSONResponse({})
