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


def _install(path: str, kind: Kind, *, creates: bool = True) -> None:
    """One kind's list, create, get, update and delete routes; ``creates=False`` leaves the
    ``POST`` out, so it answers 405 as any unrouted method does."""

    def list_items(request: Request) -> JSONResponse:
        return _list(kind, request)

    def create_item(request: Request, body: Any = Body(...)) -> JSONResponse:
        return _create(kind, request, body)

    def get_item(item_id: str, request: Request) -> JSONResponse:
        return _get(kind, item_id, request)

    def update_item(item_id: str, request: Request, body: Any = Body(...)) -> JSONResponse:
        return _update(kind, item_id, request, body)

    def delete_item(item_id: str, request: Request) -> JSONResponse:
        return _delete(kind, item_id, request)

    name = path.strip("/").replace("/", "_")
    item = f"{path}{{item_id}}/"
    router.add_api_route(path, list_items, methods=["GET"], name=f"list_{name}")
    if creates:
        router.add_api_route(path, create_item, methods=["POST"], name=f"create_{name}")
    router.add_api_route(item, get_item, methods=["GET"], name=f"get_{name}")
    router.add_api_route(item, update_item, methods=["PUT"], name=f"update_{name}")
    router.add_api_route(item, delete_item, methods=["DELETE"], name=f"delete_{name}")


_install("/activity/call/", CALL)
_install("/activity/email/", EMAIL)
_install("/activity/meeting/", MEETING, creates=False)  # Close's come from calendar sync
_install("/task/", TASK)
