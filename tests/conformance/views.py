"""What the inbound suites look at: the change feed as the host reads it, and a person's record
as the CRM holds it (through the emulator's harness, never the connector)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crmsync.db.tables import Change
from crmsync.emulation.harness import CrmRecord
from tests.support.world import World


def changes(w: World) -> list[dict[str, Any]]:
    with w.rt.db.session() as session:
        rows = session.scalars(select(Change).order_by(Change.seq))
        return [
            {"kind": c.kind, "record_id": c.record_id, "fields": c.fields, "owner": c.owner}
            for c in rows
        ]


def crm_record(w: World, person_id: str) -> CrmRecord:
    (record,) = w.records_by_person()[person_id]
    return record
