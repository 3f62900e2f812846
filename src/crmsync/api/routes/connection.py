"""An org's CRM connection, its integration log, and where a person stands."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query

from crmsync.api.deps import HostAuth, RuntimeDep
from crmsync.api.log_schemas import OperationOut, PersonSyncOut
from crmsync.api.preview_schemas import PreviewIn, PreviewOut
from crmsync.api.schemas import (
    DB_INT_MAX,
    ApiKeyConnectIn,
    AuthorizeOut,
    ConnectIn,
    ConnectionOut,
    ConnectionPatch,
    Message,
    SafeStr,
    SetupIn,
    SyncRequest,
    errors,
)
from crmsync.services import (
    api_key_connections,
    connections,
    conversations,
    operations,
    orgs,
    readback,
    triggers,
)
from crmsync.services import preview as preview_service

router = APIRouter(prefix="/api/v1/orgs/{org_id}", tags=["connection"])
# Operation ids are database integers: anything beyond DB_INT_MAX cannot exist and, unchecked,
# overflows PostgreSQL's 32-bit integer or the SQLite driver (a 500) instead of being refused.
OperationId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]


@router.post(
    "/connection",
    response_model=AuthorizeOut,
    status_code=201,
    responses=errors(400, 401, 404, 409, 422),
)
def connect(org_id: SafeStr, body: ConnectIn, rt: RuntimeDep, _: HostAuth) -> AuthorizeOut:
    """Start connecting a CRM: send the org's admin to ``authorize_url``."""
    with rt.db.session() as session:
        url, state = connections.start_authorization(
            rt, session, org_id, body.provider, body.skip_backfill, options=body.options
        )
    return AuthorizeOut(authorize_url=url, state_expires_at=state.expires_at)


@router.post(
    "/connection/api-key",
    response_model=ConnectionOut,
    status_code=201,
    responses=errors(400, 401, 404, 409, 422, 502),
)
def connect_with_api_key(
    org_id: SafeStr, body: ApiKeyConnectIn, rt: RuntimeDep, _: HostAuth
) -> ConnectionOut:
    """Connect with an API key instead of OAuth, where the CRM allows it (Close). Sending a
    new key for the same CRM account resumes a paused connection."""
    asyncio.run(
        api_key_connections.connect_with_api_key(
            rt, org_id, body.provider, body.api_key, body.skip_backfill
        )
    )
    with rt.db.session() as session:
        conn = connections.require_connection(session, org_id)
        return ConnectionOut.of(operations.connection_status(rt, session, conn))


@router.get("/connection", response_model=ConnectionOut, responses=errors(401, 404))
def get_connection(org_id: SafeStr, rt: RuntimeDep, _: HostAuth) -> ConnectionOut:
    with rt.db.session() as session:
        conn = connections.require_connection(session, org_id)
        return ConnectionOut.of(operations.connection_status(rt, session, conn))


@router.patch(
    "/connection", response_model=ConnectionOut, responses=errors(400, 401, 403, 404, 409, 422)
)
def patch_connection(
    org_id: SafeStr, body: ConnectionPatch, rt: RuntimeDep, _: HostAuth
) -> ConnectionOut:
    """Change options. ``skip_backfill`` is chosen once, at connect. ``push_enabled: false``
    pauses every push without disconnecting (work stays queued, reads back go on); ``true``
    resumes where it stopped. Conversations can be enabled only on a CRM whose connector
    exports them (409 otherwise). Given ``changed_by``, only an admin of the org may change."""
    with rt.db.session() as session:
        orgs.get_org(session, org_id)
        orgs.require_admin(session, org_id, body.changed_by, "its connection")
        if body.conversations_enabled is not None:
            conversations.set_enabled(rt, session, org_id, body.conversations_enabled)
        if body.settings is not None:
            connections.change_settings(rt, session, org_id, body.settings)
        conn = connections.update_options(
            session, org_id, body.preserve_manual_edits, body.import_mode, body.export_mode
        )
        if body.sync_interval_minutes is not None:
            readback.set_interval(session, conn, body.sync_interval_minutes)
        resumed = triggers.set_push_options(session, conn, body.push_options())
        session.flush()
        out = ConnectionOut.of(operations.connection_status(rt, session, conn))
        connection_id = conn.id
    if resumed:
        rt.kick(connection_id)
    return out


@router.post(
    "/connection/sync",
    response_model=Message,
    status_code=202,
    responses=errors(401, 404, 409, 422),
)
def sync_now(
    org_id: SafeStr, rt: RuntimeDep, _: HostAuth, body: SyncRequest | None = None
) -> Message:
    """Read the CRM's changes back now ("Sync now"), or everything (``full``: reconcile)."""
    full = body.full if body is not None else False
    with rt.db.session() as session:
        conn = connections.require_connection(session, org_id)
        readback.sync_now(session, conn, full)
        connection_id = conn.id
    rt.kick(connection_id)
    return Message(detail="a full sync was queued" if full else "a sync was queued")


@router.post(
    "/connection/preview",
    response_model=PreviewOut,
    responses=errors(400, 401, 404, 409, 422, 502),
)
def preview(org_id: SafeStr, body: PreviewIn, rt: RuntimeDep, _: HostAuth) -> PreviewOut:
    """Preview and test: what one import (``crm_id``) or export (``person_id``) would do,
    field by field, decided by the run's own code and writing nothing; with ``run`` it is
    done for real and logged at the top of the operations log."""
    found = preview_service.preview(
        rt, org_id, body.direction, body.crm_id, body.person_id, body.run
    )
    return PreviewOut.of(found)


@router.delete("/connection", response_model=Message, responses=errors(401, 404))
def disconnect(org_id: SafeStr, rt: RuntimeDep, _: HostAuth) -> Message:
    asyncio.run(connections.teardown(rt, org_id))
    with rt.db.session() as session:
        conn = connections.disconnect(session, org_id)
    return Message(
        detail=f"disconnected from {conn.provider}; records already in the CRM were left as is"
    )


@router.post(
    "/connection/setup",
    response_model=ConnectionOut,
    responses=errors(400, 401, 404, 409, 422, 502),
)
def setup(org_id: SafeStr, body: SetupIn, rt: RuntimeDep, _: HostAuth) -> ConnectionOut:
    """Check the CRM's setup again (e.g. after installing a package), or let crmsync create
    the missing custom fields itself."""
    asyncio.run(connections.run_setup(rt, org_id, body.create_missing_fields))
    with rt.db.session() as session:
        conn = connections.require_connection(session, org_id)
        return ConnectionOut.of(operations.connection_status(rt, session, conn))


@router.post(
    "/connection/reconnect",
    response_model=AuthorizeOut,
    status_code=201,
    responses=errors(401, 404),
)
def reconnect(org_id: SafeStr, rt: RuntimeDep, _: HostAuth) -> AuthorizeOut:
    """Authorise again after the CRM refused our tokens; all sync state is kept."""
    with rt.db.session() as session:
        url, state = connections.start_reconnect(rt, session, org_id)
    return AuthorizeOut(authorize_url=url, state_expires_at=state.expires_at)


@router.get("/operations", response_model=list[OperationOut], responses=errors(401, 404, 422))
def list_operations(
    org_id: SafeStr,
    rt: RuntimeDep,
    _: HostAuth,
    status: SafeStr | None = None,
    person_id: SafeStr | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=DB_INT_MAX)] = None,
) -> list[OperationOut]:
    """The integration log, newest first."""
    with rt.db.session() as session:
        entries = operations.list_operations(session, org_id, status, person_id, limit, before_id)
        return [OperationOut.of(entry) for entry in entries]


@router.post(
    "/operations/{operation_id}/retry",
    response_model=Message,
    status_code=202,
    responses=errors(401, 404, 409, 422),
)
def retry(org_id: SafeStr, operation_id: OperationId, rt: RuntimeDep, _: HostAuth) -> Message:
    with rt.db.session() as session:
        connection_id = operations.retry_operation(session, org_id, operation_id)
    rt.kick(connection_id)
    return Message(detail=f"operation {operation_id} queued for retry")


@router.post(
    "/operations/retry-failed",
    response_model=Message,
    status_code=202,
    responses=errors(401, 404),
)
def retry_failed(org_id: SafeStr, rt: RuntimeDep, _: HostAuth) -> Message:
    with rt.db.session() as session:
        connection_id, count = operations.retry_all_failed(session, org_id)
    rt.kick(connection_id)
    return Message(detail=f"{count} failed operations queued for retry")


@router.get("/people/{person_id}/sync", response_model=PersonSyncOut, responses=errors(401, 404))
def person_sync(org_id: SafeStr, person_id: SafeStr, rt: RuntimeDep, _: HostAuth) -> PersonSyncOut:
    with rt.db.session() as session:
        return PersonSyncOut.of(operations.person_sync(rt, session, org_id, person_id))
