"""HubSpot's own ``/_emulator/`` routes: seed owners and contacts, inspect stored contacts, act
as a CRM user would (edit, archive, restore, merge: ``CRM_UI`` in the history and webhooks),
set the search lag, and configure and deliver the app's webhooks (no auth, rate limit or
faults)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from crmsync.emulation import CONTROL_PREFIX
from crmsync.providers.hubspot.emulator.common import EmulatorDep
from crmsync.providers.hubspot.emulator.history import Source
from crmsync.providers.hubspot.emulator.state import HubSpotEmulator


class OwnerSeed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str
    firstName: str = ""
    lastName: str = ""


class ContactEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    properties: dict[str, Any] = Field(default_factory=dict)


class MergeByHand(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    primaryObjectId: str
    objectIdToMerge: str


class SearchLag(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lag_seconds: float = Field(ge=0)
    create_lag_seconds: float | None = Field(default=None, ge=0)


class WebhookSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    eventType: str
    propertyName: str | None = None


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target_url: str
    subscriptions: list[WebhookSubscription]


class WebhookFaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delay_seconds: float = Field(default=0.0, ge=0)
    duplicate: bool = False
    reverse: bool = False
    drop: int = Field(default=0, ge=0)


router = APIRouter(prefix=CONTROL_PREFIX, tags=["emulator controls"])


def _user(emulator: HubSpotEmulator, user_id: int | None) -> Source:
    """The CRM user acting: the portal admin unless ``user_id`` names another."""
    return Source.user(user_id) if user_id is not None else emulator.store.admin_source


@router.post("/owners", status_code=201)
def seed_owner(body: OwnerSeed, emulator: EmulatorDep) -> JSONResponse:
    owner = emulator.store.add_owner(body.email, body.firstName, body.lastName)
    return JSONResponse(owner.as_json(), status_code=201)


@router.get("/contacts")
def stored_contacts(emulator: EmulatorDep, archived: bool = False) -> JSONResponse:
    """Every stored contact with every property, e.g. to check exactly-once delivery."""
    contacts = emulator.store.snapshot(archived=archived)
    return JSONResponse({"total": len(contacts), "results": [c.full_json() for c in contacts]})


@router.post("/contacts", status_code=201)
def seed_contact(body: ContactEdit, emulator: EmulatorDep) -> JSONResponse:
    """A contact created by a user in the CRM (same validation as the API)."""
    contact = emulator.store.create(body.properties, emulator.store.admin_source)
    return JSONResponse(contact.full_json(), status_code=201)


@router.patch("/contacts/{contact_id}")
def manual_edit(
    contact_id: str, body: ContactEdit, emulator: EmulatorDep, user_id: int | None = None
) -> JSONResponse:
    """An edit made in the CRM by a user: bumps ``lastmodifieddate`` like any change."""
    contact = emulator.store.update(
        contact_id, body.properties, manual=True, source=_user(emulator, user_id)
    )
    return JSONResponse(contact.full_json())


@router.delete("/contacts/{contact_id}", status_code=204, response_model=None)
def archive_by_hand(contact_id: str, emulator: EmulatorDep, user_id: int | None = None) -> Response:
    emulator.store.archive([contact_id], _user(emulator, user_id))
    return Response(status_code=204)


@router.post("/contacts/{contact_id}/restore")
def restore_by_hand(
    contact_id: str, emulator: EmulatorDep, user_id: int | None = None
) -> JSONResponse:
    """Restore from the recycle bin, as a user does in HubSpot's screens."""
    contact = emulator.store.restore(contact_id, _user(emulator, user_id))
    return JSONResponse(contact.full_json())


@router.post("/merge")
def merge_by_hand(
    body: MergeByHand, emulator: EmulatorDep, user_id: int | None = None
) -> JSONResponse:
    survivor = emulator.store.merge(
        body.primaryObjectId, body.objectIdToMerge, _user(emulator, user_id)
    )
    return JSONResponse(survivor.full_json())


@router.put("/search")
def set_search_lag(body: SearchLag, emulator: EmulatorDep) -> dict[str, float | None]:
    emulator.store.set_search_lag(body.lag_seconds, body.create_lag_seconds)
    return body.model_dump()


@router.put("/webhooks")
def configure_webhooks(body: WebhookSettings, emulator: EmulatorDep) -> JSONResponse:
    try:
        emulator.webhooks.configure(
            body.target_url, [(s.eventType, s.propertyName) for s in body.subscriptions]
        )
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    subscriptions = [s.as_json() for s in emulator.webhooks.subscriptions]
    return JSONResponse({"target_url": body.target_url, "subscriptions": subscriptions})


@router.put("/webhooks/faults")
def webhook_faults(body: WebhookFaults, emulator: EmulatorDep) -> dict[str, object]:
    faults = emulator.webhooks.faults
    faults.delay_seconds, faults.duplicate = body.delay_seconds, body.duplicate
    faults.reverse, faults.drop = body.reverse, body.drop
    return body.model_dump()


@router.post("/webhooks/deliver")
async def deliver_webhooks(emulator: EmulatorDep) -> dict[str, int]:
    """Send what is due now over real HTTP (served emulators; in-process tests call
    ``emulator.webhooks.deliver(client)`` with a client of their own)."""
    async with httpx.AsyncClient(timeout=10.0) as http:
        accepted = await emulator.webhooks.deliver(http)
    return {"accepted": accepted, "pending": len(emulator.webhooks.pending)}
