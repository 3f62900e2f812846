"""HighLevel's own ``/_emulator/`` routes: the duplicate setting, seeding locations and users,
inspecting contacts, edits, deletes and restores made by hand in the CRM, the search index's
delay, and the app's webhooks (no auth, rate limit or faults)."""

from __future__ import annotations

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from crmsync.emulation import CONTROL_PREFIX
from crmsync.providers.highlevel.emulator.common import EmulatorDep, JsonBody
from crmsync.providers.highlevel.emulator.validation import UPDATE_KEYS, parse_contact
from crmsync.providers.highlevel.emulator.webhooks import EVENT_TYPES


class DuplicateSetting(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowDuplicateContact: bool


class LocationSeed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    city: str = ""
    state: str = ""
    country: str = "US"


class UserSeed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str
    firstName: str = ""
    lastName: str = ""
    locationIds: list[str] | None = None
    """Default: every location of the agency."""


class IndexDelay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(ge=0, le=3_600)


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None
    events: list[str] = Field(default_factory=lambda: list(EVENT_TYPES))
    legacySignature: bool = False
    """Sign with the deprecated ``X-WH-Signature`` (RSA) too."""
    duplicate: bool = False
    reverse: bool = False


router = APIRouter(prefix=CONTROL_PREFIX, tags=["emulator controls"])


@router.put("/locations/{location_id}/settings")
def set_duplicate_setting(
    location_id: str, body: DuplicateSetting, emulator: EmulatorDep
) -> JSONResponse:
    """Settings → Business Profile → Contact Deduplication Preferences → Allow Duplicate
    Contact."""
    location = emulator.store.set_allow_duplicates(location_id, body.allowDuplicateContact)
    return JSONResponse(location.as_json())


@router.post("/locations", status_code=201)
def seed_location(body: LocationSeed, emulator: EmulatorDep) -> JSONResponse:
    location = emulator.store.add_location(body.name, body.city, body.state, body.country)
    return JSONResponse(location.as_json(), status_code=201)


@router.post("/users", status_code=201)
def seed_user(body: UserSeed, emulator: EmulatorDep) -> JSONResponse:
    user = emulator.store.add_user(body.email, body.firstName, body.lastName, body.locationIds)
    return JSONResponse(user.as_json(), status_code=201)


@router.get("/locations/{location_id}/contacts")
def stored_contacts(location_id: str, emulator: EmulatorDep) -> JSONResponse:
    """Every contact of a location, e.g. to check exactly-once delivery."""
    contacts = emulator.store.snapshot(location_id)
    return JSONResponse({"total": len(contacts), "contacts": [c.as_json() for c in contacts]})


@router.put("/locations/{location_id}/contacts/{contact_id}")
def manual_edit(
    location_id: str, contact_id: str, body: JsonBody, emulator: EmulatorDep
) -> JSONResponse:
    """An edit made by a user in HighLevel (same body and rules as ``PUT /contacts/{id}``)."""
    store = emulator.store
    change = parse_contact(
        body, UPDATE_KEYS, store.field_lookup(location_id), store.user_ids(location_id)
    )
    return JSONResponse(
        {"contact": store.update_contact(location_id, contact_id, change).as_json()}
    )


@router.delete("/locations/{location_id}/contacts/{contact_id}")
def delete_by_hand(location_id: str, contact_id: str, emulator: EmulatorDep) -> JSONResponse:
    """A user deletes the contact in HighLevel."""
    emulator.store.delete_contact(location_id, contact_id)
    return JSONResponse({"succeded": True})


@router.post("/locations/{location_id}/contacts/{contact_id}/restore")
def restore_by_hand(location_id: str, contact_id: str, emulator: EmulatorDep) -> JSONResponse:
    """A user restores a deleted contact."""
    contact = emulator.store.restore_contact(location_id, contact_id)
    return JSONResponse({"contact": contact.as_json()})


@router.put("/search/delay")
def set_index_delay(body: IndexDelay, emulator: EmulatorDep) -> dict[str, float]:
    emulator.store.set_index_delay(body.seconds)
    return {"seconds": body.seconds}


@router.put("/webhooks")
def configure_webhooks(body: WebhookSettings, emulator: EmulatorDep) -> JSONResponse:
    unknown = sorted(set(body.events) - set(EVENT_TYPES))
    if unknown:
        return JSONResponse({"detail": f"unknown event types: {unknown}"}, status_code=422)
    outbox = emulator.webhooks
    outbox.configure(body.url, frozenset(body.events), body.legacySignature)
    outbox.faults.duplicate, outbox.faults.reverse = body.duplicate, body.reverse
    return JSONResponse({"url": body.url, "events": sorted(outbox.events)})


@router.get("/webhooks/keys")
def webhook_keys(emulator: EmulatorDep) -> dict[str, str]:
    """The public keys a receiver checks this emulator's signatures with."""
    signer = emulator.webhooks.signer
    return {"ed25519": signer.public_key_pem, "rsa": signer.rsa_public_key_pem}


@router.post("/webhooks/deliver")
def deliver_webhooks(emulator: EmulatorDep) -> dict[str, int]:
    """Send the queued events now."""
    with httpx.Client(timeout=10.0) as http:
        return {"accepted": emulator.webhooks.deliver(http)}
