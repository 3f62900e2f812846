"""``GET /activity/``: the activities of the caller's organisation (see ``activities``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from crmsync.emulation import EmulatedRoute
from crmsync.providers.close.emulator.common import MAX_PAGE, CallerDep, EmulatorDep, split_fields

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
    params = dict(request.query_params)
    data, more = emulator.store.list_activities(
        caller.organization_id, params, skip, limit, split_fields(fields)
    )
    return JSONResponse({"data": data, "has_more": more})
