"""A run's hold on one connection: exclusive to that run, kept alive by its heartbeat.

The holder is unique per run (not per process): two threads of one worker process must not
both run a connection, or two writes of one person could reach the CRM out of order.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from crmsync.db.tables import Connection, utcnow
from crmsync.domain.enums import ConnectionStatus
from crmsync.engine import outbox
from crmsync.engine.runtime import Runtime


@dataclass
class Lease:
    rt: Runtime
    connection_id: str
    holder: str = ""
    renewed_at: float = 0.0
    """``time.monotonic()`` of the last renewal (or of the take)."""

    def __post_init__(self) -> None:
        self.holder = self.holder or f"{self.rt.worker_id}/{uuid.uuid4().hex[:12]}"

    @property
    def seconds(self) -> int:
        return self.rt.settings.batch_lease_seconds

    def renewal_due(self) -> bool:
        """Has a sixth of the lease passed since it was last extended? Renewing after every
        batch cost each record two more row updates; the heartbeat renews every third."""
        return time.monotonic() - self.renewed_at >= self.seconds / 6

    def take(self) -> bool:
        """Only a connected connection whose lease is free or expired can be taken."""
        now = utcnow()
        self.renewed_at = time.monotonic()
        with self.rt.db.session() as session:
            taken = session.execute(
                update(Connection)
                .where(
                    Connection.id == self.connection_id,
                    Connection.status == ConnectionStatus.CONNECTED,
                    or_(Connection.lease_until.is_(None), Connection.lease_until < now),
                )
                .values(lease_owner=self.holder, lease_until=now + timedelta(seconds=self.seconds))
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(taken, "rowcount", 0))

    def renew(self) -> None:
        """Extend the connection's lease and its leased items' while this run holds it.

        Run again if PostgreSQL picks it as a deadlock victim: it updates every leased item
        of the connection while the run's own recording locks some of them in another order
        (the soak caught a heartbeat dying of that, and the run's leases lapsing)."""
        started = time.monotonic()
        until = utcnow() + timedelta(seconds=self.seconds)

        def extend(session: Session) -> None:
            owned = session.execute(
                update(Connection)
                .where(Connection.id == self.connection_id, Connection.lease_owner == self.holder)
                .values(lease_until=until)
                .execution_options(synchronize_session=False)
            )
            if getattr(owned, "rowcount", 0):
                outbox.extend_leases(session, self.connection_id, until)

        self.rt.db.transaction(extend)
        self.renewed_at = started

    def drop(self) -> None:
        with self.rt.db.session() as session:
            session.execute(
                update(Connection)
                .where(Connection.id == self.connection_id, Connection.lease_owner == self.holder)
                .values(lease_owner=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )


__all__ = ["Lease"]
