"""HubSpot's own ``/_emulator/`` routes: seed owners and contacts, inspect stored contacts, and
make "manual edits" as a CRM user would (no auth, rate limit or faults)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from crmsync.emulation import CONTROL_PREFIX
from crmsync.providers.hubspot.emulator.common import EmulatorDep


class OwnerSeed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str
    firstName: str = ""
    lastName: str = ""


class ContactEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    properties: dict[str, Any] = Field(default_factory=dict)


router = APIRouter(prefix=CONTROL_PREFIX, tags=["emulator controls"])


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
    contact = emulator.store.create(body.properties)
    return JSONResponse(contact.full_json(), status_code=201)


@router.patch("/contacts/{contact_id}")
def manual_edit(contact_id: str, body: ContactEdit, emulator: EmulatorDep) -> JSONResponse:
    """An edit made in the CRM by a user: bumps ``lastmodifieddate`` like any change."""
    contact = emulator.store.update(contact_id, body.properties, manual=True)
    return JSONResponse(contact.full_json())
