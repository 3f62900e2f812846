"""Organisation-level endpoints: the organisation, lead statuses, lead and contact custom
fields, users, ``/me/`` and ``/data/search/``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse

from crmsync.emulation import EmulatedRoute
from crmsync.providers.close.emulator.common import MAX_PAGE, CallerDep, EmulatorDep, user_id
from crmsync.providers.close.emulator.errors import not_found

Payload = Annotated[dict[str, Any], Body()]
Skip = Annotated[int, Query(alias="_skip", ge=0)]
Limit = Annotated[int, Query(alias="_limit", ge=1, le=MAX_PAGE)]

router = APIRouter(prefix="/api/v1", route_class=EmulatedRoute, tags=["organization"])


def _page(items: list[dict[str, Any]], skip: int, limit: int) -> JSONResponse:
    return JSONResponse({"data": items[skip : skip + limit], "has_more": skip + limit < len(items)})


@router.get("/organization/{organization_id}/")
def get_organization(
    organization_id: str, emulator: EmulatorDep, caller: CallerDep
) -> JSONResponse:
    """With its lead statuses and memberships (user data prefixed with ``user_``)."""
    return JSONResponse(emulator.store.organization(caller.organization_id, organization_id))


@router.get("/status/lead/")
def list_lead_statuses(emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    statuses = emulator.store.lead_statuses(caller.organization_id)
    return JSONResponse({"data": [s.as_json() for s in statuses], "has_more": False})


@router.get("/custom_field/lead/")
def list_lead_fields(
    emulator: EmulatorDep, caller: CallerDep, skip: Skip = 0, limit: Limit = 100
) -> JSONResponse:
    fields = emulator.store.custom_fields_of_leads(caller.organization_id)
    return _page([f.as_json() for f in fields], skip, limit)


@router.post("/custom_field/lead/")
def create_lead_field(payload: Payload, emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    definition = emulator.store.create_field(
        caller.organization_id, payload, user_id(emulator, caller), on="lead"
    )
    return JSONResponse(definition.as_json())


@router.get("/custom_field/lead/{field_id}/")
def get_lead_field(field_id: str, emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    for definition in emulator.store.custom_fields_of_leads(caller.organization_id):
        if definition.id == field_id:
            return JSONResponse(definition.as_json())
    raise not_found("Custom field")


@router.get("/custom_field/contact/")
def list_contact_fields(
    emulator: EmulatorDep, caller: CallerDep, skip: Skip = 0, limit: Limit = 100
) -> JSONResponse:
    fields = emulator.store.custom_fields(caller.organization_id)
    return _page([f.as_json() for f in fields], skip, limit)


@router.post("/custom_field/contact/")
def create_contact_field(
    payload: Payload, emulator: EmulatorDep, caller: CallerDep
) -> JSONResponse:
    """Types: text, number, date, datetime, choices (with ``choices``), user, hidden."""
    definition = emulator.store.create_field(
        caller.organization_id, payload, user_id(emulator, caller)
    )
    return JSONResponse(definition.as_json())


@router.get("/custom_field/contact/{field_id}/")
def get_contact_field(field_id: str, emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    for definition in emulator.store.custom_fields(caller.organization_id):
        if definition.id == field_id:
            return JSONResponse(definition.as_json())
    raise not_found("Custom field")


@router.get("/user/")
def list_users(
    emulator: EmulatorDep, caller: CallerDep, skip: Skip = 0, limit: Limit = 100
) -> JSONResponse:
    """The members of the caller's organisation, with their emails."""
    users = emulator.store.members(caller.organization_id)
    return _page([u.as_json() for u in users], skip, limit)


@router.get("/user/{member_id}/")
def get_user(member_id: str, emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    for user in emulator.store.members(caller.organization_id):
        if user.id == member_id:
            return JSONResponse(user.as_json())
    raise not_found("User")


@router.get("/me/")
def me(emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    """The authorising user and every organisation they belong to."""
    return JSONResponse(emulator.store.me(user_id(emulator, caller)))


@router.post("/data/search/")
def search(payload: Payload, emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    return JSONResponse(emulator.store.search(caller.organization_id, payload))
