"""Runs every conformance test against every provider the registry finds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crmsync.providers.catalog import BUILTIN
from tests.support.world import World, world


@pytest.fixture(params=sorted(p.name for p in BUILTIN))
def provider(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def w(db_url: str, tmp_path: Path, provider: str) -> Iterator[World]:
    with world(db_url, tmp_path, provider) as instance:
        yield instance


@pytest.fixture
def team(w: World) -> World:
    """An org with an admin whose email a CRM user shares, and a member nobody matches."""
    w.org("org1", {"u-admin": "admin@acme.test", "u-member": "member@acme.test"})
    w.crm_admin_id = w.harness.add_user("admin@acme.test", "Ann", "Admin")
    return w
