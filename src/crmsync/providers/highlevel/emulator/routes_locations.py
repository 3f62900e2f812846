"""Locations, their contact custom fields, and users (the owners a contact can have)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from crmsync.emulation import EmulatedRoute
from crmsync.providers.highlevel.emulator.common import EmulatorDep, JsonBody, TokenLocation
from crmsync.providers.highlevel.emulator.errors import forbidden_location
from crmsync.providers.highlevel.emulator.validation import parse_custom_field

router = APIRouter(route_class=EmulatedRoute, tags=["locations", "users"])


@router.get("/locations/{locationId}")
def get_location(locationId: str, emulator: EmulatorDep, location: TokenLocation) -> JSONResponse:
    found = emulator.store.location(locationId, token_location=location)
    return JSONResponse({"location": found.as_json()})


@router.get("/locations/{locationId}/customFields")
def list_custom_fields(
    locationId: str,
    emulator: EmulatorDep,
    location: TokenLocation,
    model: Literal["contact", "opportunity", "all"] = "all",
) -> JSONResponse:
    emulator.store.location(locationId, token_location=location)
    fields = emulator.store.custom_fields(locationId, model)
    return JSONResponse({"customFields": [f.as_json() for f in fields]})


@router.get("/locations/{locationId}/customFields/{id}")
def get_custom_field(
    locationId: str, id: str, emulator: EmulatorDep, location: TokenLocation
) -> JSONResponse:
    emulator.store.location(locationId, token_location=location)
    return JSONResponse({"customField": emulator.store.custom_field(locationId, id).as_json()})


@router.post("/locations/{locationId}/customFields", status_code=201)
def create_custom_field(
    locationId: str, body: JsonBody, emulator: EmulatorDep, location: TokenLocation
) -> JSONResponse:
    emulator.store.location(locationId, token_location=location)
    name, data_type, model, placeholder = parse_custom_field(body)
    field = emulator.store.create_custom_field(locationId, name, data_type, model, placeholder)
    return JSONResponse({"customField": field.as_json()}, status_code=201)


@router.get("/users/search")
def search_users(
    companyId: str,
    emulator: EmulatorDep,
    location: TokenLocation,
    locationId: str | None = None,
    query: str | None = None,
    skip: int = 0,
    limit: int = 25,
) -> JSONResponse:
    if companyId != emulator.config.company_id or (locationId and locationId != location):
        raise forbidden_location()
    users = emulator.store.users_of(companyId, locationId)
    if query:
        needle = query.lower()
        users = [u for u in users if needle in f"{u.first_name} {u.last_name} {u.email}".lower()]
    page = users[skip : skip + limit]
    return JSONResponse({"users": [u.as_json() for u in page], "count": len(users)})


@router.get("/users/")
def users_of_location(
    locationId: str, emulator: EmulatorDep, location: TokenLocation
) -> JSONResponse:
    """Deprecated by HighLevel in favour of ``/users/search``; still answered."""
    if locationId != location:
        raise forbidden_location()
    users = emulator.store.users_of(emulator.config.company_id, locationId)
    return JSONResponse({"users": [u.as_json() for u in users]})


@router.get("/users/{userId}")
def get_user(userId: str, emulator: EmulatorDep, location: TokenLocation) -> JSONResponse:
    """The user itself, not wrapped (``UserSuccessfulResponseDto``)."""
    return JSONResponse(emulator.store.user_in(location, userId).as_json())
