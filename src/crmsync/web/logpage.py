"""What the Integration logs page shows: one connection's operations, a page at a time.

The active connection by default (its counts and "Retry all failed" are on the page too);
an earlier one, read-only, when chosen. The Failed and Skipped filters show the people whose
latest run ended so, as the card counts them (``services.runs``). Exports (writes to the CRM)
by default; imports (the changes its reads took into the app, ``services.imports``) when
chosen, by entity too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from crmsync.db.tables import Connection
from crmsync.domain.enums import ConnectionStatus, OpStatus
from crmsync.domain.views import ImportEntry, OperationEntry
from crmsync.engine.runtime import Runtime
from crmsync.services import connections, imports, operations
from crmsync.services.history import person_names
from crmsync.web.views import date

CURRENT_STATES = (OpStatus.FAILED, OpStatus.SKIPPED)
EXPORT, IMPORT = "export", "import"
DIRECTIONS = (EXPORT, IMPORT)


@dataclass(frozen=True)
class LogQuery:
    status: str
    person: str
    connection_id: str
    before: int | None = None
    after: int | None = None
    direction: str = EXPORT
    entity: str = ""


@dataclass(frozen=True)
class ConnectionChoice:
    id: str
    label: str
    current: bool


@dataclass(frozen=True)
class LogPage:
    connection_id: str
    current: bool
    """The active connection's log (retries offered), not an earlier one's."""
    choices: list[ConnectionChoice]
    ops: list[OperationEntry]
    total: int
    first: int
    """The position of the page's first row among all matching operations (from 1)."""
    newer: int | None
    """``after`` for the newer page, None on the first."""
    older: int | None
    """``before`` for the older page, None on the last."""
    latest_only: bool
    retryable: set[int] = field(default_factory=set)
    names: dict[str, str] = field(default_factory=dict)
    entities: list[str] = field(default_factory=list)
    imports: list[ImportEntry] = field(default_factory=list)
    """The imports' page (``direction`` import; ``ops`` is then empty)."""


def crm_labels(rt: Runtime) -> dict[str, dict[str, str]]:
    """Per provider, its display name and record label: an operation is labelled with the
    CRM of the connection it was written to."""
    specs = {name: rt.spec(name) for name in rt.providers.names()}
    return {n: {"name": s.display_name, "record": s.record_label} for n, s in specs.items()}


def log_page(rt: Runtime, session: Session, org_id: str, query: LogQuery, size: int) -> LogPage:
    conns = connections.org_connections(session, org_id)
    chosen = next((c for c in conns if c.id == query.connection_id), conns[0])
    current = chosen.status != ConnectionStatus.DISCONNECTED
    latest_only = query.status in CURRENT_STATES
    status, person = query.status or None, query.person or None
    entity = query.entity or None
    if query.direction == IMPORT:
        return _imports_page(rt, session, org_id, query, size, conns, chosen)

    def count(newer_than: int | None = None) -> int:
        return operations.count_operations(
            session, org_id, status, person, chosen.id, latest_only, newer_than, entity
        )

    ops = operations.list_operations(
        session,
        org_id,
        status,
        person,
        size,
        query.before,
        connection_id=chosen.id,
        latest_only=latest_only,
        after_id=query.after,
        entity=entity,
    )
    total = count()
    newer_count = count(newer_than=ops[0].id) if ops else 0
    older_count = total - newer_count - len(ops)
    return LogPage(
        connection_id=chosen.id,
        current=current,
        choices=[_choice(rt, c) for c in conns],
        ops=ops,
        total=total,
        first=newer_count + 1,
        newer=ops[0].id if ops and newer_count else None,
        older=ops[-1].id if ops and older_count > 0 else None,
        latest_only=latest_only,
        retryable=operations.latest_runs(session, ops) if current else set(),
        names=person_names(session, org_id, {op.person_id for op in ops}),
        entities=imports.entities(session, org_id, chosen.id),
    )


def _imports_page(
    rt: Runtime,
    session: Session,
    org_id: str,
    query: LogQuery,
    size: int,
    conns: list[Connection],
    chosen: Connection,
) -> LogPage:
    """What the connection's reads took in, a page at a time (older pages by ``before``)."""
    entity, person = query.entity or None, query.person or None
    found = imports.list_imports(
        session, org_id, chosen.id, entity, person, size, before=query.before
    )
    total = imports.count_imports(session, org_id, chosen.id, entity, person)
    last = found[-1].seq if found else None
    more = bool(last) and imports.list_imports(session, org_id, chosen.id, entity, person, 1, last)
    return LogPage(
        connection_id=chosen.id,
        current=chosen.status != ConnectionStatus.DISCONNECTED,
        choices=[_choice(rt, c) for c in conns],
        ops=[],
        total=total,
        first=1,
        newer=None,
        older=last if more else None,
        latest_only=False,
        names=person_names(session, org_id, {c.record_id for c in found}),
        entities=imports.entities(session, org_id, chosen.id),
        imports=found,
    )


def _choice(rt: Runtime, conn: Connection) -> ConnectionChoice:
    name = rt.spec(conn.provider).display_name
    if conn.status != ConnectionStatus.DISCONNECTED:
        return ConnectionChoice(conn.id, f"{name} (current)", True)
    return ConnectionChoice(
        conn.id, f"{name} ({date(conn.connected_at)} to {date(conn.disconnected_at)})", False
    )
