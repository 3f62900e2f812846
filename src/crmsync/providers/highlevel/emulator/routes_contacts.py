"""Contacts: create, get, update, delete, upsert, search and duplicate search, in one
location."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from crmsync.emulation import EmulatedRoute
from crmsync.providers.highlevel.emulator.common import EmulatorDep, JsonBody, TokenLocation
from crmsync.providers.highlevel.emulator.errors import forbidden_location, unprocessable
from crmsync.providers.highlevel.emulator.records import ContactInput
from crmsync.providers.highlevel.emulator.search import compile_filters, parse_page
from crmsync.providers.highlevel.emulator.state import HighLevelEmulator
from crmsync.providers.highlevel.emulator.validation import (
    CREATE_KEYS,
    UPDATE_KEYS,
    UPSERT_KEYS,
    parse_contact,
)

router = APIRouter(route_class=EmulatedRoute, tags=["contacts"])


def _body_location(body: dict[str, object], token_location: str) -> str:
    location_id = body.get("locationId")
    if not isinstance(location_id, str) or not location_id:
        raise unprocessable(["locationId should not be empty", "locationId must be a string"])
    if location_id != token_location:
        raise forbidden_location()
    return location_id


def _parse(
    emulator: HighLevelEmulator, location_id: str, body: dict[str, object], keys: frozenset[str]
) -> ContactInput:
    store = emulator.store
    return parse_contact(body, keys, store.field_lookup(location_id), store.user_ids(location_id))


@router.post("/contacts/", status_code=201)
def create_contact(body: JsonBody, emulator: EmulatorDep, location: TokenLocation) -> JSONResponse:
    location_id = _body_location(body, location)
    change = _parse(emulator, location_id, body, CREATE_KEYS)
    contact = emulator.store.create_contact(location_id, change)
    return JSONResponse({"contact": contact.as_json()}, status_code=201)


@router.get("/contacts/search/duplicate")
def duplicate_search(
    locationId: str,
    emulator: EmulatorDep,
    location: TokenLocation,
    email: str | None = None,
    number: str | None = None,
) -> JSONResponse:
    if locationId != location:
        raise forbidden_location()
    found = emulator.store.find_duplicate(locationId, email, number)
    return JSONResponse({"contact": found.as_json() if found else None})


@router.post("/contacts/search")
def search_contacts(body: JsonBody, emulator: EmulatorDep, location: TokenLocation) -> JSONResponse:
    location_id = _body_location(body, location)
    custom_ids = {f.id for f in emulator.store.custom_fields(location_id, "contact")}
    query = compile_filters(body.get("filters") or [], custom_ids)
    hits, total = emulator.store.search(location_id, query, parse_page(body))
    return JSONResponse({"contacts": hits, "total": total})


@router.post("/contacts/upsert")
def upsert_contact(body: JsonBody, emulator: EmulatorDep, location: TokenLocation) -> JSONResponse:
    location_id = _body_location(body, location)
    change = _parse(emulator, location_id, body, UPSERT_KEYS)
    create_new = body.get("createNewIfDuplicateAllowed") is True
    contact, new = emulator.store.upsert_contact(location_id, change, create_new)
    return JSONResponse({"new": new, "contact": contact.as_json(), "traceId": str(uuid.uuid4())})


@router.get("/contacts/{contactId}")
def get_contact(contactId: str, emulator: EmulatorDep, location: TokenLocation) -> JSONResponse:
    return JSONResponse({"contact": emulator.store.get_contact(location, contactId).as_json()})


@router.put("/contacts/{contactId}")
def update_contact(
    contactId: str, body: JsonBody, emulator: EmulatorDep, location: TokenLocation
) -> JSONResponse:
    emulator.store.get_contact(location, contactId)  # 400 before validating the body
    change = _parse(emulator, location, body, UPDATE_KEYS)
    contact = emulator.store.update_contact(location, contactId, change)
    return JSONResponse({"succeded": True, "contact": contact.as_json()})


@router.delete("/contacts/{contactId}")
def delete_contact(contactId: str, emulator: EmulatorDep, location: TokenLocation) -> JSONResponse:
    emulator.store.delete_contact(location, contactId)
    return JSONResponse({"succeded": True})
