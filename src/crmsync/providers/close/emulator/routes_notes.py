"""``/activity/note/``: create, read and update note activities (see ``notes``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from crmsync.emulation import EmulatedRoute
from crmsync.providers.close.emulator.common import (
    CallerDep,
    EmulatorDep,
    actor,
    refuse_other_parameters,
    user_id,
)
from crmsync.providers.close.emulator.errors import invalid

router = APIRouter(prefix="/api/v1/activity/note", route_class=EmulatedRoute, tags=["notes"])


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid(["Invalid request: the body must be a JSON object."])
    return body


@router.post("/")
def create_note(
    request: Request, emulator: EmulatorDep, caller: CallerDep, body: Any = Body(...)
) -> JSONResponse:
    refuse_other_parameters(request, ())
    org_id = caller.organization_id
    note = emulator.notes.create(org_id, user_id(emulator, caller), _object(body))
    data = note.as_json()
    emulator.journal.log(org_id, "activity.note", "created", actor(emulator, caller), data)
    return JSONResponse(data)


@router.get("/{note_id}/")
def get_note(
    note_id: str, request: Request, emulator: EmulatorDep, caller: CallerDep
) -> JSONResponse:
    refuse_other_parameters(request, ())
    return JSONResponse(emulator.notes.get(caller.organization_id, note_id).as_json())


@router.put("/{note_id}/")
def update_note(
    note_id: str,
    request: Request,
    emulator: EmulatorDep,
    caller: CallerDep,
    body: Any = Body(...),
) -> JSONResponse:
    refuse_other_parameters(request, ())
    org_id = caller.organization_id
    before = emulator.notes.get(org_id, note_id).as_json()
    data = emulator.notes.update(org_id, note_id, _object(body)).as_json()
    emulator.journal.log(org_id, "activity.note", "updated", actor(emulator, caller), data, before)
    return JSONResponse(data)
