"""Pipelines, opportunity statuses, opportunity custom fields and opportunities, as on
Close (see ``pipelines``, ``opportunities`` and ``opportunity_query``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse

from crmsync.emulation import EmulatedRoute
from crmsync.providers.close.emulator import opportunity_query
from crmsync.providers.close.emulator.checks import body_object
from crmsync.providers.close.emulator.common import (
    MAX_PAGE,
    CallerDep,
    EmulatorDep,
    actor,
    refuse_other_parameters,
    split_fields,
    user_id,
)
from crmsync.providers.close.emulator.records import select

Skip = Annotated[int, Query(alias="_skip", ge=0)]
Limit = Annotated[int, Query(alias="_limit", ge=1, le=MAX_PAGE)]
FieldsQuery = Annotated[str | None, Query(alias="_fields")]

router = APIRouter(prefix="/api/v1", route_class=EmulatedRoute, tags=["opportunities"])


@router.get("/pipeline/")
def list_pipelines(request: Request, emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    refuse_other_parameters(request, ("_fields",))
    wanted = split_fields(request.query_params.get("_fields"))
    pipelines = emulator.pipelines.of(caller.organization_id)
    data = [select(p.as_json(), wanted) for p in pipelines]
    return JSONResponse({"data": data, "has_more": False})


@router.get("/status/opportunity/")
def list_statuses(request: Request, emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    refuse_other_parameters(request, ("_fields",))
    wanted = split_fields(request.query_params.get("_fields"))
    statuses = emulator.pipelines.statuses(caller.organization_id)
    data = [select(s.as_json(), wanted) for s in statuses]
    return JSONResponse({"data": data, "has_more": False})


@router.get("/custom_field/opportunity/")
def list_fields(request: Request, emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    refuse_other_parameters(request, ())
    fields = emulator.opportunities.custom_fields(caller.organization_id).values()
    return JSONResponse({"data": [f.as_json() for f in fields], "has_more": False})


@router.post("/custom_field/opportunity/")
def create_field(
    request: Request, emulator: EmulatorDep, caller: CallerDep, body: Any = Body(...)
) -> JSONResponse:
    refuse_other_parameters(request, ())
    made = emulator.opportunities.create_field(
        caller.organization_id, body_object(body), user_id(emulator, caller)
    )
    return JSONResponse(made.as_json())


@router.get("/opportunity/")
def list_opportunities(
    request: Request,
    emulator: EmulatorDep,
    caller: CallerDep,
    skip: Skip = 0,
    limit: Limit = 100,
    fields: FieldsQuery = None,
) -> JSONResponse:
    store = emulator.opportunities
    kept = opportunity_query.filtered(
        dict(request.query_params), store.of_org(caller.organization_id)
    )
    wanted = split_fields(fields)
    data = [select(store.json(o), wanted) for o in kept[skip : skip + limit]]
    body = {"data": data, "has_more": skip + limit < len(kept)}
    return JSONResponse({**body, **opportunity_query.aggregates(kept)})


@router.post("/opportunity/")
def create_opportunity(
    request: Request, emulator: EmulatorDep, caller: CallerDep, body: Any = Body(...)
) -> JSONResponse:
    refuse_other_parameters(request, ())
    made = emulator.opportunities.create(
        caller.organization_id, body_object(body), actor(emulator, caller)
    )
    return JSONResponse(made)


@router.get("/opportunity/{opportunity_id}/")
def get_opportunity(
    opportunity_id: str,
    request: Request,
    emulator: EmulatorDep,
    caller: CallerDep,
    fields: FieldsQuery = None,
) -> JSONResponse:
    refuse_other_parameters(request, ("_fields",))
    store = emulator.opportunities
    found = store.get(caller.organization_id, opportunity_id)
    return JSONResponse(select(store.json(found), split_fields(fields)))


@router.put("/opportunity/{opportunity_id}/")
def update_opportunity(
    opportunity_id: str,
    request: Request,
    emulator: EmulatorDep,
    caller: CallerDep,
    body: Any = Body(...),
) -> JSONResponse:
    refuse_other_parameters(request, ())
    changed = emulator.opportunities.update(
        caller.organization_id, opportunity_id, body_object(body), actor(emulator, caller)
    )
    return JSONResponse(changed)


@router.delete("/opportunity/{opportunity_id}/")
def delete_opportunity(
    opportunity_id: str, request: Request, emulator: EmulatorDep, caller: CallerDep
) -> JSONResponse:
    refuse_other_parameters(request, ())
    emulator.opportunities.delete(caller.organization_id, opportunity_id, actor(emulator, caller))
    return JSONResponse({})
