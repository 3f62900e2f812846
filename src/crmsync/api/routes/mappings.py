"""What flows where: the org's app fields, the CRM's field catalogue and the connection's
field mappings. Reading is open to the host; a change may name the org user making it, who
must then be an admin (``changed_by``)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from crmsync.api.deps import HostAuth, RuntimeDep
from crmsync.api.mapping_schemas import (
    AppFieldOut,
    AppFieldsIn,
    CrmFieldsOut,
    MappingsIn,
    MappingsOut,
    MappingsSaved,
)
from crmsync.api.schemas import SafeStr, errors
from crmsync.services import app_fields, crm_catalogue, mappings
from crmsync.services.connections import require_connection

router = APIRouter(prefix="/api/v1/orgs/{org_id}", tags=["mappings"])


@router.get("/fields", response_model=list[AppFieldOut], responses=errors(401, 404))
def list_app_fields(org_id: SafeStr, rt: RuntimeDep, _: HostAuth) -> list[AppFieldOut]:
    """The org's fields a mapping's app side is chosen from: the person's, then custom ones."""
    with rt.db.session() as session:
        return [AppFieldOut.of(f) for f in app_fields.app_fields(session, org_id)]


@router.put("/fields", response_model=list[AppFieldOut], responses=errors(400, 401, 403, 404, 422))
def save_app_fields(
    org_id: SafeStr, body: AppFieldsIn, rt: RuntimeDep, _: HostAuth
) -> list[AppFieldOut]:
    """Declare the org's custom fields (the whole set). A mapped field may change its label
    only; anything refused changes nothing."""
    with rt.db.session() as session:
        saved = app_fields.save_app_fields(session, org_id, body.command())
        return [AppFieldOut.of(f) for f in saved]


@router.get("/connection/fields", response_model=CrmFieldsOut, responses=errors(401, 404, 409, 502))
def crm_fields(org_id: SafeStr, rt: RuntimeDep, _: HostAuth, refresh: bool = False) -> CrmFieldsOut:
    """The CRM's field catalogue, custom fields included: kept once read, read again with
    ``refresh`` (after creating a field in the CRM)."""
    return CrmFieldsOut.of(asyncio.run(crm_catalogue.catalogue(rt, org_id, refresh)))


@router.get("/connection/mappings", response_model=MappingsOut, responses=errors(401, 404))
def get_mappings(org_id: SafeStr, rt: RuntimeDep, _: HostAuth) -> MappingsOut:
    """Per object mapping, each app field's CRM field, canonical system and kind."""
    with rt.db.session() as session:
        conn = require_connection(session, org_id)
        return MappingsOut.of(mappings.mappings_view(rt, session, conn))


@router.put(
    "/connection/mappings",
    response_model=MappingsSaved,
    responses=errors(400, 401, 403, 404, 409, 422, 502),
)
def save_mappings(org_id: SafeStr, body: MappingsIn, rt: RuntimeDep, _: HostAuth) -> MappingsSaved:
    """Replace the field mappings, checked against the CRM's catalogue; an invalid set is
    refused whole. The new set applies from the next sync and rewrites no record by itself:
    the answer says what the next sync does, and what a full sync would."""
    return MappingsSaved.of(asyncio.run(mappings.save_mappings(rt, org_id, body.command())))
