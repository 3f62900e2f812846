"""``/activity/call/``, ``/activity/email/``, ``/activity/meeting/`` and ``/task/`` (see
``logged``). Meetings have no ``POST``: Close's API does not create them, so the route answers
405 as any unrouted method does. Lists filter by ``lead_id`` (and ``contact_id`` / ``user_id``
on activities; ``assigned_to``, ``is_complete`` and ``_type`` on tasks); any other parameter
is refused."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from crmsync.emulation import EmulatedRoute
from crmsync.providers.close.emulator.checks import body_object
from crmsync.providers.close.emulator.common import (
    MAX_PAGE,
    actor,
    get_caller,
    get_emulator,
    refuse_other_parameters,
    split_fields,
)
from crmsync.providers.close.emulator.errors import invalid
from crmsync.providers.close.emulator.logged import CALL, EMAIL, MEETING, TASK, Kind, Logged
from crmsync.providers.close.emulator.records import select

router = APIRouter(prefix="/api/v1", route_class=EmulatedRoute, tags=["logged activities"])
PAGING = ("_skip", "_limit", "_fields")
ACTIVITY_FILTERS = ("lead_id", "contact_id", "user_id")
TASK_FILTERS = ("lead_id", "assigned_to", "is_complete", "_type")


def _page(params: dict[str, str]) -> tuple[int, int]:
    try:
        skip, limit = int(params.get("_skip", "0")), int(params.get("_limit", "100"))
    except ValueError:
        raise invalid(field_errors={"_limit": "Not a valid integer."}) from None
    if skip < 0 or not 1 <= limit <= MAX_PAGE:
        raise invalid(field_errors={"_limit": f"Must be between 1 and {MAX_PAGE}."})
    return skip, limit


def _kept(item: Logged, params: dict[str, str]) -> bool:
    for name in (*ACTIVITY_FILTERS, "assigned_to"):
        if name in params and str(item.as_json().get(name)) != params[name]:
            return False
    wanted = params.get("is_complete")
    return wanted is None or item.values.get("is_complete") == (wanted == "true")


def _check(params: dict[str, str]) -> None:
    """Filter values checked before any object is looked at (an empty list refuses too)."""
    if params.get("is_complete", "true") not in ("true", "false"):
        raise invalid(field_errors={"is_complete": "Not a valid boolean."})
    if params.get("_type", "lead") != "lead":
        raise invalid(field_errors={"_type": "The emulator has lead tasks only."})


def _list(kind: Kind, request: Request) -> JSONResponse:
    filters = TASK_FILTERS if kind is TASK else ACTIVITY_FILTERS
    refuse_other_parameters(request, (*PAGING, *filters))
    params = dict(request.query_params)
    skip, limit = _page(params)
    _check(params)
    emulator, caller = get_emulator(request), get_caller(request, get_emulator(request))
    items = emulator.logged.of_org(caller.organization_id, kind)
    kept = sorted((i for i in items if _kept(i, params)), key=lambda i: (i.date_created, i.id))
    wanted = split_fields(params.get("_fields"))
    data = [select(i.as_json(), wanted) for i in kept[skip : skip + limit]]
    return JSONResponse({"data": data, "has_more": skip + limit < len(kept)})


def _create(kind: Kind, request: Request, body: Any) -> JSONResponse:
    refuse_other_parameters(request, ())
    emulator = get_emulator(request)
    caller = get_caller(request, emulator)
    made = emulator.logged.create(
        caller.organization_id, kind, body_object(body), actor(emulator, caller)
    )
    return JSONResponse(made)


def _get(kind: Kind, item_id: str, request: Request) -> JSONResponse:
    refuse_other_parameters(request, ("_fields",))
    emulator = get_emulator(request)
    caller = get_caller(request, emulator)
    found = emulator.logged.get(caller.organization_id, kind, item_id)
    return JSONResponse(select(found.as_json(), split_fields(request.query_params.get("_fields"))))


def _update(kind: Kind, item_id: str, request: Request, body: Any) -> JSONResponse:
    refuse_other_parameters(request, ())
    emulator = get_emulator(request)
    caller = get_caller(request, emulator)
    changed = emulator.logged.update(
        caller.organization_id, kind, item_id, body_object(body), actor(emulator, caller)
    )
    return JSONResponse(changed)


def _delete(kind: Kind, item_id: str, request: Request) -> JSONResponse:
    refuse_other_parameters(request, ())
    emulator = get_emulator(request)
    caller = get_caller(request, emulator)
    emulator.logged.delete(caller.organization_id, kind, item_id, actor(emulator, caller))
    return JSONResponse({})


# calls -----------------------------------------------------------------------------------


@router.get("/activity/call/")
def list_calls(request: Request) -> JSONResponse:
    return _list(CALL, request)


@router.post("/activity/call/")
def create_call(request: Request, body: Any = Body(...)) -> JSONResponse:
    return _create(CALL, request, body)


@router.get("/activity/call/{item_id}/")
def get_call(item_id: str, request: Request) -> JSONResponse:
    return _get(CALL, item_id, request)


@router.put("/activity/call/{item_id}/")
def update_call(item_id: str, request: Request, body: Any = Body(...)) -> JSONResponse:
    return _update(CALL, item_id, request, body)


@router.delete("/activity/call/{item_id}/")
def delete_call(item_id: str, request: Request) -> JSONResponse:
    return _delete(CALL, item_id, request)


# emails ----------------------------------------------------------------------------------


@router.get("/activity/email/")
def list_emails(request: Request) -> JSONResponse:
    return _list(EMAIL, request)


@router.post("/activity/email/")
def create_email(request: Request, body: Any = Body(...)) -> JSONResponse:
    return _create(EMAIL, request, body)


@router.get("/activity/email/{item_id}/")
def get_email(item_id: str, request: Request) -> JSONResponse:
    return _get(EMAIL, item_id, request)


@router.put("/activity/email/{item_id}/")
def update_email(item_id: str, request: Request, body: Any = Body(...)) -> JSONResponse:
    return _update(EMAIL, item_id, request, body)


@router.delete("/activity/email/{item_id}/")
def delete_email(item_id: str, request: Request) -> JSONResponse:
    return _delete(EMAIL, item_id, request)


# meetings (no create: Close's come from calendar sync) -------------------------------------


@router.get("/activity/meeting/")
def list_meetings(request: Request) -> JSONResponse:
    return _list(MEETING, request)


@router.get("/activity/meeting/{item_id}/")
def get_meeting(item_id: str, request: Request) -> JSONResponse:
    return _get(MEETING, item_id, request)


@router.put("/activity/meeting/{item_id}/")
def update_meeting(item_id: str, request: Request, body: Any = Body(...)) -> JSONResponse:
    return _update(MEETING, item_id, request, body)


@router.delete("/activity/meeting/{item_id}/")
def delete_meeting(item_id: str, request: Request) -> JSONResponse:
    return _delete(MEETING, item_id, request)


# tasks -----------------------------------------------------------------------------------


@router.get("/task/")
def list_tasks(request: Request) -> JSONResponse:
    return _list(TASK, request)


@router.post("/task/")
def create_task(request: Request, body: Any = Body(...)) -> JSONResponse:
    return _create(TASK, request, body)


@router.get("/task/{item_id}/")
def get_task(item_id: str, request: Request) -> JSONResponse:
    return _get(TASK, item_id, request)


@router.put("/task/{item_id}/")
def update_task(item_id: str, request: Request, body: Any = Body(...)) -> JSONResponse:
    return _update(TASK, item_id, request, body)


@router.delete("/task/{item_id}/")
def delete_task(item_id: str, request: Request) -> JSONResponse:
    return _delete(TASK, item_id, request)
