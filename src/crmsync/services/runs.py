"""What is *failed* (or *skipped*) now: a record whose latest run on the connection ended so.

The one definition behind the card's counts, the log's Failed and Skipped filters, "Retry all
failed" and the retries after a setup: an earlier failure that another run followed is
history, not a failure.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, exists, select
from sqlalchemy.orm import aliased

from crmsync.db.tables import Operation


def is_latest_run() -> ColumnElement[bool]:
    """The operation is its record's latest run on its connection (no later one exists)."""
    later = aliased(Operation)
    return ~exists().where(
        later.connection_id == Operation.connection_id,
        later.object_type == Operation.object_type,
        later.local_id == Operation.local_id,
        later.id > Operation.id,
    )


def current_runs(connection_id: str, status: str) -> Select[Operation]:
    """The operations of records whose latest run on the connection ended with ``status``:
    what the card counts as failed (or skipped) and what "Retry all failed" retries."""
    return select(Operation).where(
        Operation.connection_id == connection_id, Operation.status == status, is_latest_run()
    )
