"""Close's own ``/_emulator/`` routes: seed users, inspect stored leads, and narrow injected
faults to some endpoints (no auth, rate limit or faults)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from crmsync.emulation import CONTROL_PREFIX
from crmsync.providers.close.emulator.common import EmulatorDep


class UserSeed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str
    first_name: str = ""
    last_name: str = ""


class FaultScope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoints: list[str] | None = None
    """E.g. ``["POST /api/v1/lead/"]``; null lets faults hit every API endpoint again."""


router = APIRouter(prefix=CONTROL_PREFIX, tags=["emulator controls"])


@router.post("/users", status_code=201)
def seed_user(body: UserSeed, emulator: EmulatorDep) -> JSONResponse:
    """A member of the first organisation, e.g. the user whose email owners are matched to."""
    user = emulator.store.add_user(body.email, body.first_name, body.last_name)
    return JSONResponse(user.as_json(), status_code=201)


@router.get("/leads")
def stored_leads(emulator: EmulatorDep, organization_id: str | None = None) -> JSONResponse:
    """Every lead with its contacts, e.g. to check exactly-once creation."""
    org_id = organization_id or emulator.organization_id
    leads, _ = emulator.store.page(org_id, "lead", 0, 10**9)
    return JSONResponse({"total": len(leads), "data": leads})


@router.get("/fault-scope")
def get_fault_scope(emulator: EmulatorDep) -> JSONResponse:
    scope = emulator.policy.fault_scope
    return JSONResponse({"endpoints": sorted(scope) if scope is not None else None})


@router.put("/fault-scope")
def put_fault_scope(body: FaultScope, emulator: EmulatorDep) -> JSONResponse:
    emulator.policy.fault_scope = frozenset(body.endpoints) if body.endpoints is not None else None
    return get_fault_scope(emulator)
