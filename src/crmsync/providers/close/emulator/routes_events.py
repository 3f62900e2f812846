"""The event log (``GET /event/``), lead merge (``POST /lead/merge/``) and webhook
subscriptions (``/webhook/``), as on Close (see ``eventlog`` and ``webhooks``)."""

from __future__ import annotations

from email.utils import formatdate
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from crmsync.emulation import EmulatedRoute
from crmsync.providers.close.emulator import lead_moves
from crmsync.providers.close.emulator.common import CallerDep, EmulatorDep, actor, user_id
from crmsync.providers.close.emulator.errors import invalid

Payload = Annotated[dict[str, Any], Body()]

router = APIRouter(prefix="/api/v1", route_class=EmulatedRoute, tags=["events and webhooks"])


@router.get("/event/")
def list_events(request: Request, emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    """Newest first, ``_limit`` at most 50, paged by ``_cursor``; the ``Date`` header is
    Close's clock."""
    page = emulator.store.event_page(caller.organization_id, dict(request.query_params))
    headers = {"Date": formatdate(emulator.config.clock(), usegmt=True)}
    return JSONResponse(page, headers=headers)


@router.post("/lead/merge/")
def merge_leads(payload: Payload, emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    source, destination = payload.get("source"), payload.get("destination")
    if not isinstance(source, str) or not isinstance(destination, str):
        raise invalid(field_errors={"source": "Required.", "destination": "Required."})
    lead_moves.merge(emulator, caller.organization_id, source, destination, actor(emulator, caller))
    return JSONResponse({"status": "ok"})


@router.get("/webhook/")
def list_webhooks(emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    return JSONResponse({"data": emulator.webhooks.list(caller.organization_id), "has_more": False})


@router.post("/webhook/")
def create_webhook(payload: Payload, emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    created = emulator.webhooks.create(caller.organization_id, payload, user_id(emulator, caller))
    return JSONResponse(created)


@router.get("/webhook/{subscription_id}/")
def get_webhook(subscription_id: str, emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    return JSONResponse(emulator.webhooks.get(caller.organization_id, subscription_id))


@router.put("/webhook/{subscription_id}/")
def update_webhook(
    subscription_id: str, payload: Payload, emulator: EmulatorDep, caller: CallerDep
) -> JSONResponse:
    return JSONResponse(emulator.webhooks.update(caller.organization_id, subscription_id, payload))


@router.delete("/webhook/{subscription_id}/")
def delete_webhook(subscription_id: str, emulator: EmulatorDep, caller: CallerDep) -> JSONResponse:
    emulator.webhooks.delete(caller.organization_id, subscription_id)
    return JSONResponse({})
