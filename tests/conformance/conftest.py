"""Runs every conformance test against every provider the registry finds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crmsync.domain.records import Capability
from crmsync.providers.catalog import BUILTIN
from tests.conformance.views import changes
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


@pytest.fixture
def linked(team: World) -> World:
    """The team's org connected, with one person pushed and read back once (for the inbound
    suites, which skip a connector that does not read changes)."""
    if Capability.READ_CHANGES not in team.rt.provider(team.provider).connector.capabilities:
        pytest.skip(f"{team.provider} does not declare read_changes")
    team.connect("org1")
    team.person("p1", first_name="Grace", last_name="Hopper", title="Admiral", company="Navy")
    team.unlock("org1", "p1", "u-admin")
    team.drain()
    team.sync_back()  # the first read takes in what the push just wrote: no change
    assert changes(team) == []
    return team
