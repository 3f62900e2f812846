"""``/activity/note/``: create, read and update note activities (see ``notes``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from crmsync.emulation import EmulatedRoute
from crmsync.providers.close.emulator.common import (
    CallerDep,
    EmulatorDep,
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
    note = emulator.notes.create(caller.organization_id, user_id(emulator, caller), _object(body))
    return JSONResponse(note.as_json())


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
    note = emulator.notes.update(caller.organization_id, note_id, _object(body))
    return JSONResponse(note.as_json())
