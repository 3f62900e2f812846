"""``GET /activity/``: every activity of the caller's organisation, whatever its kind —
``Created``, notes, calls, emails and meetings — each with its ``_type`` (see ``activities``
for the filters). Tasks are not activities in Close and are listed at ``/task/``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from crmsync.emulation import EmulatedRoute
from crmsync.providers.close.emulator import activities
from crmsync.providers.close.emulator.common import MAX_PAGE, CallerDep, EmulatorDep, split_fields
from crmsync.providers.close.emulator.logged import CALL, EMAIL, MEETING
from crmsync.providers.close.emulator.records import select

Skip = Annotated[int, Query(alias="_skip", ge=0)]
Limit = Annotated[int, Query(alias="_limit", ge=1, le=MAX_PAGE)]
FieldsQuery = Annotated[str | None, Query(alias="_fields")]

router = APIRouter(prefix="/api/v1", route_class=EmulatedRoute, tags=["activities"])


@router.get("/activity/")
def list_activities(
    request: Request,
    emulator: EmulatorDep,
    caller: CallerDep,
    skip: Skip = 0,
    limit: Limit = 100,
    fields: FieldsQuery = None,
) -> JSONResponse:
    org_id = caller.organization_id
    params = dict(request.query_params)
    with emulator.store.lock:
        created = [a for a in emulator.store.activities.values() if a.organization_id == org_id]
    with emulator.notes.lock:
        notes = [n for n in emulator.notes.notes.values() if n.organization_id == org_id]
    logged = [i for kind in (CALL, EMAIL, MEETING) for i in emulator.logged.of_org(org_id, kind)]
    everything: list[activities.Activity] = [*created, *notes, *logged]
    kept = activities.filtered(params, everything)
    wanted = split_fields(fields)
    data = [select(a.as_json(), wanted) for a in kept[skip : skip + limit]]
    return JSONResponse({"data": data, "has_more": skip + limit < len(kept)})
