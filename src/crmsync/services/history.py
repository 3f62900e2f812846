"""A person's page: what each of the org's connections holds of them, and "Sync now".

An org may have connected several CRMs over time (one at a time). Every operation and link
belongs to one connection, so a person's history is shown per connection, each labelled with
that connection's CRM: a Close write stays a Close write after the org moved to Salesforce.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crmsync.db.tables import Connection, Link, Operation, Person, Unlock, WorkItem
from crmsync.domain.enums import ConnectionStatus
from crmsync.domain.views import OperationEntry
from crmsync.engine.runtime import Runtime
from crmsync.errors import NotFound
from crmsync.services.connections import org_connections
from crmsync.services.links import record_link
from crmsync.services.operations import latest_runs, list_operations
from crmsync.services.orgs import get_org
from crmsync.services.records import contact_record


@dataclass(frozen=True)
class ConnectionHistory:
    """One connection's side of a person: the record it wrote, and its operations."""

    connection_id: str
    provider: str
    provider_name: str
    record_label: str
    status: str
    connected_at: datetime
    disconnected_at: datetime | None
    current: bool
    crm_id: str | None = None
    crm_url: str | None = None
    written: dict[str, Any] = field(default_factory=dict)
    last_synced_at: datetime | None = None
    queued: bool = False
    operations: list[OperationEntry] = field(default_factory=list)
    retryable: set[int] = field(default_factory=set)
    """Operations that are their person's latest run (only those offer a retry)."""


def person_history(
    rt: Runtime, session: Session, org_id: str, person_id: str, limit: int = 20
) -> list[ConnectionHistory]:
    """Per connection of the org that holds anything of the person (the active one also when
    the org unlocked them): the active connection first, then earlier ones, newest first.
    NotFound when none does."""
    get_org(session, org_id)
    conns = org_connections(session, org_id)
    ids = [c.id for c in conns]
    links = {
        link.connection_id: link
        for link in session.scalars(
            select(Link).where(Link.connection_id.in_(ids), *contact_record(Link, person_id))
        )
    }
    queued = set(
        session.scalars(
            select(WorkItem.connection_id)
            .where(WorkItem.connection_id.in_(ids), *contact_record(WorkItem, person_id))
            .distinct()
        )
    )
    with_ops = set(
        session.scalars(
            select(Operation.connection_id)
            .where(Operation.org_id == org_id, *contact_record(Operation, person_id))
            .distinct()
        )
    )
    # the current connection also for a person the org unlocked that it has not pushed yet
    # (its unlock trigger off, or connected with skip_backfill): "Sync to CRM" pushes them
    unlocked = person_details(session, org_id, person_id) is not None
    sections = []
    for conn in conns:
        holds = conn.id in links or conn.id in queued or conn.id in with_ops
        current = conn.status != ConnectionStatus.DISCONNECTED
        if not holds and not (current and unlocked):
            continue
        ops = _operations(session, org_id, person_id, conn.id, limit) if conn.id in with_ops else []
        sections.append(_section(rt, conn, links.get(conn.id), conn.id in queued, ops, session))
    if not sections:
        raise NotFound(f"person {person_id!r} is not synced for organisation {org_id!r}")
    return sections


def _operations(
    session: Session, org_id: str, person_id: str, connection_id: str, limit: int
) -> list[OperationEntry]:
    return list_operations(
        session, org_id, person_id=person_id, limit=limit, connection_id=connection_id
    )


def _section(
    rt: Runtime,
    conn: Connection,
    link: Link | None,
    queued: bool,
    ops: list[OperationEntry],
    session: Session,
) -> ConnectionHistory:
    spec = rt.spec(conn.provider)
    crm_id = link.crm_id if link is not None else None
    return ConnectionHistory(
        connection_id=conn.id,
        provider=conn.provider,
        provider_name=spec.display_name,
        record_label=spec.record_label,
        status=conn.status,
        connected_at=conn.connected_at,
        disconnected_at=conn.disconnected_at,
        current=conn.status != ConnectionStatus.DISCONNECTED,
        crm_id=crm_id,
        crm_url=record_link(rt, conn, crm_id),
        written=dict(link.written) if link is not None and crm_id else {},
        last_synced_at=link.last_synced_at if link is not None else None,
        queued=queued,
        operations=ops,
        retryable=latest_runs(session, ops),
    )


def person_details(session: Session, org_id: str, person_id: str) -> Person | None:
    """The host's record of the person, for an org that unlocked them (None otherwise)."""
    unlocked = session.scalar(
        select(func.count())
        .select_from(Unlock)
        .where(Unlock.org_id == org_id, Unlock.person_id == person_id)
    )
    return session.get(Person, person_id) if unlocked else None


def person_names(session: Session, org_id: str, person_ids: set[str]) -> dict[str, str]:
    """Display names of people this org unlocked (people without a name are left out)."""
    if not person_ids:
        return {}
    rows = session.execute(
        select(Person.person_id, Person.first_name, Person.last_name)
        .where(Person.person_id.in_(sorted(person_ids)))
        .where(
            Person.person_id.in_(
                select(Unlock.person_id).where(
                    Unlock.org_id == org_id, Unlock.person_id.in_(sorted(person_ids))
                )
            )
        )
    )
    names = {pid: " ".join(p for p in (first, last) if p) for pid, first, last in rows}
    return {pid: name for pid, name in names.items() if name}
