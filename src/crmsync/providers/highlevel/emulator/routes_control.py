"""HighLevel's own ``/_emulator/`` routes: the duplicate setting, seeding locations and users,
inspecting contacts, and edits made by hand in the CRM (no auth, rate limit or faults)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from crmsync.emulation import CONTROL_PREFIX
from crmsync.providers.highlevel.emulator.common import EmulatorDep, JsonBody
from crmsync.providers.highlevel.emulator.validation import UPDATE_KEYS, parse_contact


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
