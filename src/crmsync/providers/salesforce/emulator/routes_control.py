"""Salesforce's own ``/_emulator/`` routes: seed users, read and hand-edit records, delete,
undelete, merge and convert as a CRM user, move the clock on, empty the recycle bin, set the
duplicate rule, add a lead assignment rule, remove the package's fields, shape bulk jobs (no
auth, no allocation, no faults). Hand edits are the CRM user's (``crm_user``), never the user
crmsync's connection writes as."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from crmsync.emulation import CONTROL_PREFIX
from crmsync.providers.salesforce.emulator.common import EmulatorDep
from crmsync.providers.salesforce.emulator.store import WriteContext, timestamp


class UserSeed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str
    firstName: str = ""
    lastName: str = ""
    isActive: bool = True


class Conversion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    opportunity: bool = False


class Merge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    masterRecordId: str
    recordIds: list[str] = Field(min_length=1, max_length=2)


class ClockShift(BaseModel):
    model_config = ConfigDict(extra="forbid")

    advanceSeconds: float = Field(ge=0)


class DuplicateRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["none", "alert", "block"]
    name: str | None = None


class AssignmentRuleSeed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ownerId: str
    name: str = "Standard"
    active: bool = True


class BulkShape(BaseModel):
    model_config = ConfigDict(extra="forbid")

    polls_in_progress: int = Field(default=1, ge=0)
    fail_after: int | None = Field(default=None, ge=0)


router = APIRouter(prefix=CONTROL_PREFIX, tags=["emulator controls"])


@router.post("/users", status_code=201)
def seed_user(body: UserSeed, emulator: EmulatorDep) -> JSONResponse:
    user_id = emulator.add_user(body.email, body.firstName, body.lastName, body.isActive)
    return JSONResponse(emulator.store.get("User", user_id), status_code=201)


@router.get("/records/{sobject}")
def stored_records(sobject: str, emulator: EmulatorDep) -> JSONResponse:
    rows = emulator.records(sobject)
    return JSONResponse({"totalSize": len(rows), "records": rows})


@router.post("/records/{sobject}", status_code=201)
def create_by_hand(sobject: str, body: dict[str, Any], emulator: EmulatorDep) -> JSONResponse:
    """A record a user creates in the UI (same validation, no duplicate rule prompt)."""
    row = emulator.store.create(sobject, body, WriteContext(emulator.crm_user(), manual=True))
    return JSONResponse(row, status_code=201)


@router.patch("/records/{sobject}/{record_id}")
def edit_by_hand(
    sobject: str, record_id: str, body: dict[str, Any], emulator: EmulatorDep
) -> JSONResponse:
    row = emulator.store.update(
        sobject, record_id, body, WriteContext(emulator.crm_user(), manual=True)
    )
    return JSONResponse(row)


@router.delete("/records/{sobject}/{record_id}")
def delete_by_hand(sobject: str, record_id: str, emulator: EmulatorDep) -> JSONResponse:
    """Into the recycle bin, as a CRM user."""
    return JSONResponse(emulator.delete(sobject, record_id))


@router.post("/records/{sobject}/{record_id}/undelete")
def undelete_by_hand(sobject: str, record_id: str, emulator: EmulatorDep) -> JSONResponse:
    """Restored from the recycle bin, with new stamps."""
    return JSONResponse(emulator.undelete(sobject, record_id))


@router.post("/records/{sobject}/merge")
def merge_by_hand(sobject: str, body: Merge, emulator: EmulatorDep) -> JSONResponse:
    """What SOAP's ``merge`` call does: the master survives, the others are deleted."""
    return JSONResponse(emulator.merge(sobject, body.masterRecordId, body.recordIds))


@router.post("/leads/{lead_id}/convert")
def convert(lead_id: str, body: Conversion, emulator: EmulatorDep) -> JSONResponse:
    return JSONResponse(emulator.convert_lead(lead_id, body.opportunity))


@router.post("/clock")
def advance_clock(body: ClockShift, emulator: EmulatorDep) -> dict[str, str]:
    """The org's clock moves on (tokens, allocation windows and the recycle bin age too)."""
    emulator.clock.advance(body.advanceSeconds)
    return {"now": timestamp(emulator.clock())}


@router.post("/recycle-bin/empty")
def empty_recycle_bin(emulator: EmulatorDep) -> dict[str, int]:
    """An admin empties the bin: every deleted record is physically deleted now."""
    return {"purged": emulator.purge_deleted(everything=True)}


@router.put("/duplicate-rule")
def set_duplicate_rule(body: DuplicateRule, emulator: EmulatorDep) -> dict[str, str]:
    emulator.store.duplicate_rule = body.action
    if body.name:
        emulator.store.duplicate_rule_name = body.name
    return {"action": body.action, "name": emulator.store.duplicate_rule_name}


@router.post("/assignment-rules", status_code=201)
def add_assignment_rule(body: AssignmentRuleSeed, emulator: EmulatorDep) -> JSONResponse:
    """A lead assignment rule an admin set up: every lead goes to ``ownerId``."""
    rule_id = emulator.set_assignment_rule(body.ownerId, body.name, body.active)
    return JSONResponse(emulator.store.get("AssignmentRule", rule_id), status_code=201)


@router.delete("/fields/{sobject}/{name}")
def remove_field(sobject: str, name: str, emulator: EmulatorDep) -> dict[str, bool]:
    """Uninstall one custom field (e.g. to start a test without the managed package)."""
    return {"removed": emulator.store.remove_field(sobject, name)}


@router.put("/bulk")
def shape_bulk(body: BulkShape, emulator: EmulatorDep) -> dict[str, int | None]:
    emulator.jobs.polls_in_progress = body.polls_in_progress
    emulator.jobs.fail_after = body.fail_after
    return body.model_dump()
