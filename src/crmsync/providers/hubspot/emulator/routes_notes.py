"""``/crm/v3/objects/notes``: create (with a note-to-contact association), read, update (see
``notes`` for what HubSpot accepts)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from crmsync.emulation import EmulatedRoute
from crmsync.providers.hubspot.emulator.common import EmulatorDep, split_names
from crmsync.providers.hubspot.emulator.errors import validation_error
from crmsync.providers.hubspot.emulator.notes import NOTE_TO_CONTACT


class AssociationType(BaseModel):
    model_config = ConfigDict(extra="forbid")
    associationCategory: str
    associationTypeId: int


class AssociationTarget(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)
    id: str


class AssociationInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: AssociationTarget
    types: list[AssociationType]


class NoteInput(BaseModel):
    model_config = ConfigDict(extra="ignore")
    properties: dict[str, Any] = Field(default_factory=dict)
    associations: list[AssociationInput] = Field(default_factory=list)


router = APIRouter(prefix="/crm/v3/objects/notes", route_class=EmulatedRoute, tags=["notes"])


@router.post("", status_code=201)
def create_note(body: NoteInput, emulator: EmulatorDep) -> JSONResponse:
    contact_ids: list[str] = []
    for association in body.associations:
        for kind in association.types:
            if kind.associationCategory != "HUBSPOT_DEFINED" or (
                kind.associationTypeId != NOTE_TO_CONTACT
            ):
                raise validation_error(
                    f"association type {kind.associationCategory}/{kind.associationTypeId} "
                    "is not supported between notes and the target object"
                )
        if association.to.id not in emulator.store.contacts:
            raise validation_error(f"No contact with id {association.to.id} exists")
        contact_ids.append(association.to.id)
    note = emulator.notes.create(body.properties, contact_ids)
    return JSONResponse(note.as_json(list(body.properties)), status_code=201)


@router.get("/{note_id}")
def get_note(
    note_id: str,
    emulator: EmulatorDep,
    properties: list[str] | None = Query(None),
    associations: list[str] | None = Query(None),
) -> JSONResponse:
    wanted = split_names(associations) or []
    unknown = [a for a in wanted if a not in ("contacts", "contact")]
    if unknown:
        raise validation_error(f"associations to {', '.join(unknown)} are not supported here")
    note = emulator.notes.get(note_id)
    return JSONResponse(note.as_json(split_names(properties), with_contacts=bool(wanted)))


@router.patch("/{note_id}")
def update_note(note_id: str, body: NoteInput, emulator: EmulatorDep) -> JSONResponse:
    if body.associations:
        raise validation_error("associations cannot be changed by an update; use the v4 API")
    note = emulator.notes.update(note_id, body.properties)
    return JSONResponse(note.as_json(list(body.properties)))
