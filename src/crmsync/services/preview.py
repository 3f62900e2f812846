"""Preview and test: what one import (a CRM record) or export (an app contact) would do, field
by field, and with ``run`` doing it for real.

The answer comes from the run's own decisions: ``Intake.judge`` (the import) and
``planner.plan_person`` (the export), on the same inputs the run reads. A preview makes no
write to either side: the CRM is only read (``read(ids, fields)`` and, for owners it does not
know, ``users_by_id``) and the session it reads in is rolled back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crmsync.db.tables import Connection, Link, Operation, Unlock, utcnow
from crmsync.domain.enums import Lane, OpStatus
from crmsync.domain.keys import CONTACT
from crmsync.domain.mapping import FieldMaps
from crmsync.domain.modes import ImportMode, PreviewStatus
from crmsync.domain.records import Capability, Change, ChangeKind
from crmsync.domain.writes import Plan
from crmsync.engine import outbox
from crmsync.engine.admission import ImportDecision
from crmsync.engine.connecting import open_connector
from crmsync.engine.inbound import InboundSync
from crmsync.engine.intake import Intake
from crmsync.engine.lease import Lease
from crmsync.engine.planner import PlanContext, plan_person
from crmsync.engine.reads import export_options, first_unlockers, links_of, load_flow, people_rows
from crmsync.engine.reconcile import Verdict
from crmsync.engine.runner import SyncRunner
from crmsync.engine.runtime import Runtime
from crmsync.errors import Conflict, InputError, NotFound
from crmsync.services.connections import require_connection

IMPORT, EXPORT = "import", "export"
IMPORT_LANE = "import"
"""The log's lane of an import made by "Run test" (pushes use ``Lane``)."""


@dataclass(frozen=True)
class FieldPreview:
    app_field: str
    crm_field: str
    value: Any
    """The incoming (CRM) or outgoing (app, as the CRM gets it) value."""
    outcome: str
    """import: taken | written_back | unchanged | not_read; export: sent | not_sent."""
    reason: str


@dataclass(frozen=True)
class Preview:
    direction: str
    status: PreviewStatus
    reason: str
    mode: str
    crm_id: str | None
    person_id: str | None
    fields: tuple[FieldPreview, ...] = ()
    ran: bool = False
    operation_id: int | None = None
    result: dict[str, Any] = field(default_factory=dict)


def preview(
    rt: Runtime,
    org_id: str,
    direction: str,
    crm_id: str | None,
    person_id: str | None,
    run: bool,
) -> Preview:
    if direction not in (IMPORT, EXPORT):
        raise InputError("direction must be import or export")
    if (crm_id is None) == (person_id is None):
        raise InputError("give exactly one of crm_id and person_id")
    if direction == IMPORT and crm_id is None:
        raise InputError("an import preview reads one CRM record: give crm_id")
    if direction == EXPORT and person_id is None:
        raise InputError("an export preview writes one app contact: give person_id")
    with rt.db.session() as session:
        conn = require_connection(session, org_id)
    if direction == IMPORT:
        assert crm_id is not None
        return asyncio.run(_import(rt, conn, crm_id, run))
    assert person_id is not None
    return _export(rt, conn, person_id, run)


# -- import ---------------------------------------------------------------------------------


async def _import(rt: Runtime, conn: Connection, crm_id: str, run: bool) -> Preview:
    if Capability.READ not in rt.provider(conn.provider).connector.capabilities:
        raise Conflict(f"{conn.provider} does not read records back: nothing to import")
    with rt.db.session() as session:
        flow = load_flow(session, conn.id)
        mapping = flow.object_for(CONTACT)
        owners = {str(v): k for k, v in (conn.owner_cache or {}).items()}
    if mapping is None:
        raise Conflict("the connection maps no contacts")
    async with open_connector(rt, conn) as connector:
        intake = Intake(
            org_id=conn.org_id,
            connection_id=conn.id,
            reader=conn.id,
            mapping=mapping,
            user_emails=owners,
            preserve_manual_edits=conn.preserve_manual_edits,
            mode=ImportMode(conn.import_mode),
            stored=connector.stored_value,
        )
        fields = [f.crm_field for f in mapping.fields.fields]
        records = [r for r in await connector.read([crm_id], fields) if r.crm_id == crm_id]
        if not records:
            raise NotFound(f"the CRM has no record {crm_id}")
        (record,) = records
        change = Change(ChangeKind.UPSERTED, crm_id, record.modified_at or "", record=record)
        await InboundSync(rt, conn, connector).learn_owners(intake, [change])
    if not run:
        with rt.db.sessions() as session:  # read only, and rolled back whatever happens
            try:
                local_id, decision = _judge(session, intake, change)
            finally:
                session.rollback()
        return _import_preview(conn, crm_id, local_id, decision, mapping.fields, change)
    lease = Lease(rt, conn.id)
    if not lease.take():
        raise Conflict("the connection is syncing right now: run the test again in a moment")
    try:

        def work(session: Session) -> tuple[str | None, ImportDecision, int]:
            link = intake.links(session, [crm_id]).get(crm_id)
            decision = intake.take_one(session, change, link)
            session.flush()
            local_id = session.scalar(
                select(Link.local_id).where(Link.connection_id == conn.id, Link.crm_id == crm_id)
            )
            op = _import_operation(conn, crm_id, local_id, decision)
            session.add(op)
            session.flush()
            return local_id, decision, op.id

        local_id, decision, op_id = rt.db.transaction(work)
    finally:
        lease.drop()
    done = _import_preview(conn, crm_id, local_id, decision, mapping.fields, change)
    result = {"status": decision.status.value, "reason": decision.reason, "crm_id": crm_id}
    return replace(done, ran=True, operation_id=op_id, result=result)


def _judge(session: Session, intake: Intake, change: Change) -> tuple[str | None, ImportDecision]:
    link = intake.links(session, [change.crm_id]).get(change.crm_id)
    target, decision = intake.judge(session, change, link)
    return target.local_id, decision


def _import_preview(
    conn: Connection,
    crm_id: str,
    local_id: str | None,
    decision: ImportDecision,
    fields: FieldMaps,
    change: Change,
) -> Preview:
    assert change.record is not None
    found = decision.reconciled.verdicts if decision.reconciled else []
    verdicts = {v.field.crm_field: v for v in found}
    rows = []
    for mapped in fields.fields:
        if mapped.crm_field not in change.record.fields:
            rows.append(FieldPreview(mapped.local_field, mapped.crm_field, None, "not_read", ""))
            continue
        value = change.record.fields[mapped.crm_field]
        verdict = verdicts.get(mapped.crm_field)
        if verdict is None:
            why = decision.reason if decision.status is PreviewStatus.IGNORED else "no change"
            rows.append(FieldPreview(mapped.local_field, mapped.crm_field, value, "unchanged", why))
        else:
            outcome = "taken" if verdict.verdict is Verdict.TAKEN else "written_back"
            rows.append(
                FieldPreview(mapped.local_field, mapped.crm_field, value, outcome, verdict.reason)
            )
    return Preview(
        IMPORT,
        decision.status,
        decision.reason,
        conn.import_mode,
        crm_id,
        local_id,
        tuple(rows),
    )


_LANDED = {OpStatus.INSERTED, OpStatus.UPDATED, OpStatus.UNCHANGED}
"""A run's outcomes that did what the preview said; any other is reported ``failed``."""
_LOGGED = {
    PreviewStatus.INSERTED: OpStatus.INSERTED,
    PreviewStatus.UPDATED: OpStatus.UPDATED,
    PreviewStatus.DEACTIVATED: OpStatus.UPDATED,
}


def _import_operation(
    conn: Connection, crm_id: str, local_id: str | None, decision: ImportDecision
) -> Operation:
    taken = dict(decision.reconciled.taken) if decision.reconciled else {}
    now = utcnow()
    return Operation(
        org_id=conn.org_id,
        connection_id=conn.id,
        object_type=CONTACT,
        local_id=local_id or "",
        lane=IMPORT_LANE,
        status=_LOGGED.get(decision.status, OpStatus.UNCHANGED),
        reason=f"{decision.status}: {decision.reason}",
        crm_id=crm_id,
        request_summary={"direction": IMPORT, "taken": sorted(taken)},
        created_at=now,
        updated_at=now,
    )


# -- export ---------------------------------------------------------------------------------


def _export(rt: Runtime, conn: Connection, person_id: str, run: bool) -> Preview:
    with rt.db.sessions() as session:  # read only, and rolled back whatever happens
        try:
            desired, plan, mappings = _plan(rt, session, conn, person_id)
        finally:
            session.rollback()
    status = _export_status(rt, conn, plan)
    rows = tuple(
        FieldPreview(
            mapped.local_field,
            mapped.crm_field,
            desired.get(mapped.crm_field),
            "sent" if mapped.crm_field in plan.send else "not_sent",
            _field_reason(plan, mapped.crm_field, desired.get(mapped.crm_field)),
        )
        for mapped in mappings.fields
    )
    reason = plan.reason or (
        "a create writes every mapped field with a value"
        if plan.first_write
        else "an update writes the changed fields the app owns"
    )
    found = Preview(EXPORT, status, reason, conn.export_mode, None, person_id, rows)
    if not run:
        return found
    with rt.db.session() as session:
        outbox.enqueue(session, conn.id, CONTACT, [person_id], Lane.LIVE)
    if SyncRunner(rt).run(conn.id).busy:
        raise Conflict("the connection is syncing right now: the contact is queued")
    with rt.db.session() as session:
        op = session.scalars(
            select(Operation)
            .where(Operation.connection_id == conn.id, Operation.local_id == person_id)
            .order_by(Operation.id.desc())
            .limit(1)
        ).first()
        if op is None:
            return replace(found, ran=True)
        result = {"status": op.status, "reason": op.reason, "crm_id": op.crm_id}
        ran = replace(found, ran=True, operation_id=op.id, result=result)
        if op.status in _LANDED:
            return ran
        return replace(ran, status=PreviewStatus.FAILED, reason=op.reason or op.status)


def _plan(
    rt: Runtime, session: Session, conn: Connection, person_id: str
) -> tuple[dict[str, Any], Plan, FieldMaps]:
    """The batch planner's inputs for one contact, read as ``BatchRecorder`` reads them."""
    unlocked = session.scalar(
        select(Unlock.id).where(Unlock.org_id == conn.org_id, Unlock.person_id == person_id)
    )
    people = people_rows(session, [person_id])
    if unlocked is None or person_id not in people:
        raise NotFound(f"the org has no contact {person_id}")
    flow = load_flow(session, conn.id)
    contact = flow.object_for(CONTACT)
    mappings = contact.fields if contact is not None else FieldMaps.of(())
    preserve, mode = export_options(session, conn.id)
    context = PlanContext(preserve, flow.source, mode, rt.settings.profile_url_template)
    link = links_of(session, conn.id, CONTACT, [person_id]).get(person_id)
    owner = first_unlockers(session, conn.org_id, [person_id]).get(person_id)
    owners = {str(k): str(v) for k, v in (conn.owner_cache or {}).items()}
    desired, plan = plan_person(people[person_id], owner, link, mappings, owners, context)
    return desired, plan, mappings


def _export_status(rt: Runtime, conn: Connection, plan: Plan) -> PreviewStatus:
    if plan.ignored:
        return PreviewStatus.IGNORED
    if plan.unchanged:
        return PreviewStatus.UNCHANGED
    if plan.first_write:
        upserts = rt.spec(conn.provider).upserts
        return PreviewStatus.UPSERTED if upserts else PreviewStatus.INSERTED
    return PreviewStatus.UPDATED


def _field_reason(plan: Plan, crm_field: str, value: Any) -> str:
    if crm_field in plan.send:
        return "created with the record" if plan.first_write else "the app's value changed"
    if plan.first_write:
        return "empty: left unset"
    return plan.reason or "unchanged since the last write"
