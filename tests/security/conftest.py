"""An in-process crmsync with the HubSpot emulator, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.world import World, world


@pytest.fixture
def w(db_url: str, tmp_path: Path) -> Iterator[World]:
    with world(db_url, tmp_path, "hubspot") as instance:
        yield instance


@pytest.fixture
def team(w: World) -> World:
    """org1, connected to the HubSpot emulator, with an admin the CRM knows."""
    w.org("org1", {"u-admin": "admin@acme.test"})
    w.harness.add_user("admin@acme.test", "Ann", "Admin")
    w.connect("org1")
    return w
