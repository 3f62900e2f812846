"""An in-process crmsync with the HubSpot emulator, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crmsync.db.tables import Base
from tests.support.world import World, world

RowCounts = Callable[[], dict[str, int]]


@pytest.fixture
def w(db_url: str, tmp_path: Path) -> Iterator[World]:
    with world(db_url, tmp_path, "hubspot") as instance:
        yield instance


@pytest.fixture
def team(w: World) -> World:
    """org1 with an admin the CRM knows and a member; org2 with its own user."""
    w.org("org1", {"u-admin": "admin@acme.test", "u-member": "member@acme.test"})
    w.org("org2", {"u-other": "other@beta.test"})
    w.crm_admin_id = w.harness.add_user("admin@acme.test", "Ann", "Admin")
    return w


@pytest.fixture
def rows(w: World) -> RowCounts:
    """Row counts of every crmsync table: equal before and after means nothing was written."""

    def count() -> dict[str, int]:
        with w.rt.db.session() as session:
            return {
                table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
                for table in Base.metadata.sorted_tables
            }

    return count
