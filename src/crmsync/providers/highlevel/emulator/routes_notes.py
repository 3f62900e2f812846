"""A contact's notes: list, create, get, update (see ``notes``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from crmsync.emulation import EmulatedRoute
from crmsync.providers.highlevel.emulator.common import EmulatorDep, JsonBody, TokenLocation

router = APIRouter(route_class=EmulatedRoute, tags=["notes"])


@router.get("/contacts/{contactId}/notes")
def list_notes(contactId: str, emulator: EmulatorDep, location: TokenLocation) -> JSONResponse:
    emulator.store.get_contact(location, contactId)
    notes = emulator.notes.of_contact(location, contactId)
    return JSONResponse({"notes": [n.as_json() for n in notes]})


@router.post("/contacts/{contactId}/notes", status_code=201)
def create_note(
    contactId: str, body: JsonBody, emulator: EmulatorDep, location: TokenLocation
) -> JSONResponse:
    emulator.store.get_contact(location, contactId)  # 400 before validating the body
    users = emulator.store.user_ids(location)
    note = emulator.notes.create(location, contactId, body, users)
    return JSONResponse({"note": note.as_json()}, status_code=201)


@router.get("/contacts/{contactId}/notes/{id}")
def get_note(
    contactId: str, id: str, emulator: EmulatorDep, location: TokenLocation
) -> JSONResponse:
    emulator.store.get_contact(location, contactId)
    return JSONResponse({"note": emulator.notes.get(location, contactId, id).as_json()})


@router.put("/contacts/{contactId}/notes/{id}")
def update_note(
    contactId: str, id: str, body: JsonBody, emulator: EmulatorDep, location: TokenLocation
) -> JSONResponse:
    emulator.store.get_contact(location, contactId)
    users = emulator.store.user_ids(location)
    note = emulator.notes.update(location, contactId, id, body, users)
    return JSONResponse({"note": note.as_json()})
