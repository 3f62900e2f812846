"""Connecting an org to its CRM: authorise, complete, reconnect, change options, disconnect."""

from __future__ import annotations

import logging
import re
import secrets
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crmsync.connectors.base import SETUP_KEPT, AccountInfo, Connector, SetupReport
from crmsync.connectors.spec import ProviderSpec
from crmsync.db.tables import (
    Connection,
    FieldMapping,
    Flow,
    OAuthState,
    ObjectMapping,
    Org,
    WorkItem,
    naive_utc,
    utcnow,
)
from crmsync.domain.enums import ConnectionStatus, Direction, Lane, OpStatus, System
from crmsync.domain.keys import CONTACT
from crmsync.domain.mapping import APP
from crmsync.domain.modes import ExportMode, ImportMode
from crmsync.domain.records import Capability
from crmsync.engine import outbox
from crmsync.engine.connecting import SEALED_OPTIONS, apply_setup, open_connector
from crmsync.engine.runtime import Runtime
from crmsync.errors import Conflict, ConnectorError, InputError, NotFound
from crmsync.services.orgs import get_org
from crmsync.services.runs import current_runs

log = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=15)
STATE_KEPT = timedelta(days=1)  # past its expiry, before a state is deleted


def active_connection(session: Session, org_id: str) -> Connection | None:
    return session.scalar(
        select(Connection).where(
            Connection.org_id == org_id, Connection.status != ConnectionStatus.DISCONNECTED
        )
    )


def refuse_second_crm(session: Session, org_id: str) -> None:
    """The app↔CRM product's rule, one CRM per organisation (the table allows more, for
    CRM-to-CRM): a Conflict if the org has an active connection."""
    existing = active_connection(session, org_id)
    if existing is not None:
        raise second_crm(org_id, existing)


def second_crm(org_id: str, existing: Connection) -> Conflict:
    return Conflict(
        f"organisation {org_id!r} is already connected to {existing.provider}; "
        "disconnect it before connecting another CRM"
    )


def org_connections(session: Session, org_id: str) -> list[Connection]:
    """Every connection the org has had, the active one first, then newest first."""
    rows = session.scalars(
        select(Connection)
        .where(Connection.org_id == org_id)
        .order_by(Connection.connected_at.desc(), Connection.id)
    ).all()
    return sorted(rows, key=lambda c: c.status == ConnectionStatus.DISCONNECTED)


def require_connection(session: Session, org_id: str) -> Connection:
    get_org(session, org_id)
    conn = active_connection(session, org_id)
    if conn is None:
        raise NotFound(f"organisation {org_id!r} has no CRM connection")
    return conn


def start_authorization(
    rt: Runtime,
    session: Session,
    org_id: str,
    provider: str,
    skip_backfill: bool,
    session_binding: str | None = None,
    options: dict[str, str] | None = None,
) -> tuple[str, OAuthState]:
    """Begin connecting: returns the CRM's authorize URL; the state binds it to this org.

    ``options`` are the provider's connection options (validated by its connector)."""
    get_org(session, org_id)
    rt.provider(provider).connector.oauth_overrides(options or {})  # unknown → InputError
    refuse_second_crm(session, org_id)
    return _new_state(
        rt, session, org_id, provider, "connect", None, skip_backfill, session_binding, options
    )


def start_reconnect(
    rt: Runtime, session: Session, org_id: str, session_binding: str | None = None
) -> tuple[str, OAuthState]:
    conn = require_connection(session, org_id)
    options = rt.open_options(conn.settings.get(SEALED_OPTIONS))
    return _new_state(
        rt, session, org_id, conn.provider, "reconnect", conn.id, False, session_binding, options
    )


def _new_state(
    rt: Runtime,
    session: Session,
    org_id: str,
    provider: str,
    purpose: str,
    connection_id: str | None,
    skip_backfill: bool,
    session_binding: str | None,
    options: dict[str, str] | None = None,
) -> tuple[str, OAuthState]:
    forget_old_states(session)
    state = secrets.token_urlsafe(32)
    url, verifier = rt.oauth_flow(provider, options).authorization_url(state)
    row = OAuthState(
        state=state,
        org_id=org_id,
        provider=provider,
        purpose=purpose,
        connection_id=connection_id,
        code_verifier=verifier,
        options={"skip_backfill": skip_backfill, SEALED_OPTIONS: rt.seal_options(options or {})},
        session_binding=session_binding,
        expires_at=utcnow() + STATE_TTL,
    )
    session.add(row)
    return url, row


def forget_old_states(session: Session) -> None:
    """Deletes states expired more than ``STATE_KEPT`` ago, so the table does not grow with
    every attempt; until then a late callback is told its state expired, not that it is
    unknown."""
    session.execute(delete(OAuthState).where(OAuthState.expires_at < utcnow() - STATE_KEPT))


async def complete_authorization(
    rt: Runtime,
    provider: str,
    state: str,
    code: str | None,
    error: str | None = None,
    session_binding: str | None = None,
) -> Connection:
    """The CRM redirected back: exchange the code, then create or resume the connection."""
    with rt.db.session() as session:
        pending = session.get(OAuthState, state)
        if pending is None or pending.provider != provider or pending.consumed_at is not None:
            raise InputError("unknown or already used authorisation state; start connecting again")
        if naive_utc(pending.expires_at) < naive_utc(utcnow()):
            raise InputError("the authorisation took too long and expired; start again")
        if pending.session_binding and pending.session_binding != session_binding:
            raise InputError("this authorisation was started in another session")
        pending.consumed_at = utcnow()  # single use, even if what follows fails
        verifier, pending.code_verifier = pending.code_verifier, None  # kept by nothing spent
    if error:
        shown = re.sub(r"[^A-Za-z0-9_.-]", "", error)[:60] or "no reason given"
        raise InputError(f"authorisation was not granted ({shown})")
    if not code:
        raise InputError("the CRM did not send an authorisation code")
    options = rt.open_options(pending.options.get(SEALED_OPTIONS))
    token = await rt.oauth_flow(provider, options).exchange(code, verifier)
    kept = _kept(rt, pending.connection_id) if pending.purpose == "reconnect" else {}
    account, report = await _inspect_account(rt, provider, token, options, kept)
    with rt.db.session() as session:
        if pending.purpose == "reconnect":
            conn = _resume(session, pending, account)
        else:
            conn = _create(rt, session, pending, account)
        conn.token_ciphertext = rt.vault.seal(token)
        conn.token_version += 1
        conn.status = ConnectionStatus.CONNECTED
        conn.status_reason = None
        apply_setup(conn, report)
    rt.kick(conn.id)
    return conn


def _kept(rt: Runtime, connection_id: str | None) -> dict[str, Any]:
    """What the connection's setup made in the CRM: a reconnect's setup finds it again
    instead of making a second one (Close's webhook subscription)."""
    with rt.db.session() as session:
        conn = session.get(Connection, connection_id) if connection_id else None
        return dict(conn.settings.get(SETUP_KEPT) or {}) if conn is not None else {}


async def _inspect_account(
    rt: Runtime,
    provider: str,
    token: dict[str, Any],
    options: dict[str, str],
    kept: dict[str, Any] | None = None,
) -> tuple[AccountInfo, SetupReport]:
    spec = rt.spec(provider, options)
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    async with rt.http_client(spec, None) as http:
        http.headers.update(headers)
        account = await _connector(rt, spec, provider, http, None, {}).describe_account(token)
        settings = {**account.settings, **({SETUP_KEPT: kept} if kept else {})}
        connector = _connector(rt, spec, provider, http, account.account_id, settings)
        report = await connector.ensure_setup()
    return account, report


def _connector(
    rt: Runtime,
    spec: ProviderSpec,
    provider: str,
    http: httpx.AsyncClient,
    account_id: str | None,
    settings: dict[str, Any],
) -> Connector:
    return rt.provider(provider).connector(rt.connector_context(spec, http, account_id, settings))


def _create(rt: Runtime, session: Session, pending: OAuthState, account: AccountInfo) -> Connection:
    return create_connection(
        rt,
        session,
        pending.org_id,
        pending.provider,
        account,
        skip_backfill=bool(pending.options.get("skip_backfill")),
        sealed_options=pending.options.get(SEALED_OPTIONS),
    )


def create_connection(
    rt: Runtime,
    session: Session,
    org_id: str,
    provider: str,
    account: AccountInfo,
    skip_backfill: bool,
    sealed_options: str | None = None,
) -> Connection:
    """A new connection with its default mappings, and its backfill queued unless skipped.

    The org's row is locked first, so two connects of one org serialise and the second sees
    the first's connection (on SQLite the write transaction serialises them)."""
    session.execute(select(Org.id).where(Org.id == org_id).with_for_update())
    refuse_second_crm(session, org_id)
    skip = skip_backfill
    conn = Connection(
        org_id=org_id,
        provider=provider,
        status=ConnectionStatus.CONNECTED,
        skip_backfill=skip,
        account_id=account.account_id,
        settings={
            "account_label": account.label,
            **account.settings,
            SEALED_OPTIONS: sealed_options,
        },
        connected_at=utcnow(),
        owner_cache={},
    )
    session.add(conn)
    session.flush()
    _seed_mappings(rt, session, conn)
    if not skip:
        outbox.enqueue_backfill(session, conn)
    return conn


def _resume(session: Session, pending: OAuthState, account: AccountInfo) -> Connection:
    return resume_connection(session, pending.connection_id, account)


def resume_connection(
    session: Session, connection_id: str | None, account: AccountInfo
) -> Connection:
    """The paused connection, authorised again for the same CRM account."""
    conn = session.get(Connection, connection_id) if connection_id else None
    if conn is None or conn.status == ConnectionStatus.DISCONNECTED:
        raise InputError("the connection to resume was disconnected; connect again instead")
    if conn.account_id and conn.account_id != account.account_id:
        raise Conflict(
            f"you authorised a different account ({account.label}) than the connected one "
            f"({conn.settings.get('account_label', conn.account_id)}); disconnect to switch"
        )
    conn.owners_fetched_at = None
    return conn


def _seed_mappings(rt: Runtime, session: Session, conn: Connection) -> None:
    """The app → CRM flow of a new connection, with the provider's default field mappings;
    a field the spec gives to the CRM is owned by this connection."""
    connector = rt.provider(conn.provider).connector
    flow = Flow(org_id=conn.org_id, source=APP, target=conn.id)
    session.add(flow)
    session.flush()
    obj = ObjectMapping(
        flow_id=flow.id,
        connection_id=conn.id,
        local_object=CONTACT,
        crm_object=connector.spec.crm_object,
        direction=Direction.BOTH
        if Capability.READ_CHANGES in connector.capabilities
        else Direction.PUSH,
    )
    session.add(obj)
    session.flush()
    for field in connector.default_fields(rt.app):
        session.add(
            FieldMapping(
                object_mapping_id=obj.id,
                app_field=field.app_field,
                crm_field=field.crm_field,
                provided_as=field.provided_as,
                value_kind=field.kind,
                source_of_truth=APP if field.source_of_truth is System.APP else conn.id,
                identity=field.identity,
                note=field.note,
            )
        )


async def run_setup(rt: Runtime, org_id: str, create_missing_fields: bool) -> Connection:
    """Check the CRM's setup again, creating what is missing when the admin allows it."""
    with rt.db.session() as session:
        conn = require_connection(session, org_id)
        if conn.status == ConnectionStatus.NEEDS_RECONNECT:
            raise Conflict("reconnect the CRM before checking its setup")
        if create_missing_fields:
            conn.settings = {**conn.settings, "create_missing_fields": True}
        was_missing = bool(conn.settings.get("setup", {}).get("missing"))
    async with open_connector(rt, conn) as connector:
        report = await connector.ensure_setup()
    with rt.db.session() as session:
        conn = session.get_one(Connection, conn.id)
        apply_setup(conn, report)
        if report.ready and (report.created or was_missing):
            retry_current_failures(session, conn.id)
    rt.kick(conn.id)
    return conn


def retry_current_failures(session: Session, connection_id: str) -> int:
    """Queue again every person whose latest run on the connection failed.

    Called once a setup check finds the CRM fields that were missing (created by "Create the
    fields", or by hand): the writes that failed for want of them go again by themselves (one
    that failed for another reason fails again, and says so in the log)."""
    failed = session.scalars(current_runs(connection_id, OpStatus.FAILED)).all()
    for op in failed:
        outbox.enqueue(
            session, connection_id, op.object_type, [op.local_id], Lane.REFRESH, operation_id=op.id
        )
    return len(failed)


def update_options(
    session: Session,
    org_id: str,
    preserve_manual_edits: bool | None,
    import_mode: ImportMode | None = None,
    export_mode: ExportMode | None = None,
) -> Connection:
    """Options that apply from the next sync (modes: ``domain.modes``)."""
    conn = require_connection(session, org_id)
    if preserve_manual_edits is not None:
        conn.preserve_manual_edits = preserve_manual_edits
    if import_mode is not None:
        conn.import_mode = ImportMode(import_mode)
    if export_mode is not None:
        conn.export_mode = ExportMode(export_mode)
    return conn


def change_settings(
    rt: Runtime, session: Session, org_id: str, settings: dict[str, Any]
) -> Connection:
    """Provider choices an org may make (validated by its connector), e.g. Salesforce's
    converted_leads."""
    conn = require_connection(session, org_id)
    clean = rt.provider(conn.provider).connector.validate_settings(settings)
    conn.settings = {**conn.settings, **clean}
    return conn


async def teardown(rt: Runtime, org_id: str) -> None:
    """Before a disconnect: the connector undoes what its setup made in the CRM for this
    connection alone (``Connector.teardown``). Best effort: a CRM that refuses or cannot be
    reached does not keep the org connected."""
    with rt.db.session() as session:
        conn = require_connection(session, org_id)
    if conn.status == ConnectionStatus.DISCONNECTED or conn.token_ciphertext is None:
        return
    try:
        async with open_connector(rt, conn) as connector:
            await connector.teardown()
    except ConnectorError as exc:
        log.warning("%s: could not undo the CRM setup on disconnect: %s", conn.id, exc)


def disconnect(session: Session, org_id: str) -> Connection:
    """Stop syncing and forget the tokens; records already in the CRM stay untouched."""
    conn = require_connection(session, org_id)
    conn.status = ConnectionStatus.DISCONNECTED
    conn.status_reason = "disconnected by the organisation"
    conn.disconnected_at = utcnow()
    conn.token_ciphertext = None
    conn.lease_owner = None
    conn.lease_until = None
    session.execute(delete(WorkItem).where(WorkItem.connection_id == conn.id))
    return conn
