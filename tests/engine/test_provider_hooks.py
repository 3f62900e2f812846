"""Engine hooks some CRMs need: connection options, a setup step, bulk backfills.

They are exercised through the scriptable fake CRM (``tests/support/fake_connector.py``), so
the engine's side is proven independently of the connectors that use them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crmsync.db.tables import OAuthState
from tests.support.fake_connector import FakeCrm, FakeWorld, Hold, fake_world
from tests.support.world import World, world


@pytest.fixture
def w(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    with world(sqlite_url, tmp_path, "hubspot") as instance:
        instance.org("org1", {"u1": "owner@acme.test"})
        yield instance


def test_an_option_a_provider_does_not_take_is_refused_and_nothing_is_written(w: World) -> None:
    r = w.api.post(
        "/api/v1/orgs/org1/connection",
        json={"provider": "hubspot", "options": {"login_host": "test"}},
    )
    assert r.status_code == 422
    assert "unknown HubSpot connection option(s) login_host" in r.json()["detail"]
    with w.rt.db.session() as session:
        assert session.scalars(select(OAuthState)).all() == []


@pytest.fixture
def crm() -> FakeCrm:
    return FakeCrm()


@contextmanager
def fake(sqlite_url: str, tmp_path: Path, crm: FakeCrm, **spec: Any) -> Iterator[FakeWorld]:
    with fake_world(sqlite_url, tmp_path, crm, spec) as instance:
        instance.org("org1", {"u1": "owner@acme.test"})
        yield instance


def test_connection_options_shape_the_authorisation_and_stay_encrypted(
    sqlite_url: str, tmp_path: Path, crm: FakeCrm
) -> None:
    with fake(sqlite_url, tmp_path, crm) as w:
        options = {"client_id": "orgs-own-app", "client_secret": "s3cret-of-the-org"}
        r = w.api.post(
            "/api/v1/orgs/org1/connection", json={"provider": "fake", "options": options}
        )
        assert r.status_code == 201
        assert "client_id=orgs-own-app" in r.json()["authorize_url"]
        with w.rt.db.session() as session:
            [state] = session.scalars(select(OAuthState)).all()
            assert "s3cret-of-the-org" not in repr(state.options)
            assert w.rt.open_options(state.options["provider_options"]) == options


def test_sync_waits_for_setup_until_the_admin_lets_crmsync_create_fields(
    sqlite_url: str, tmp_path: Path
) -> None:
    crm = FakeCrm(fields_exist=False)
    with fake(sqlite_url, tmp_path, crm) as w:
        status = w.connect("org1")
        assert status["status"] == "setup_required"
        assert status["setup"]["missing"] == ["fake_person_id"]
        w.person("p1")
        w.unlock("org1", "p1", "u1")
        w.drain()
        assert crm.records == {} and crm.calls["push"] == 0
        r = w.api.post("/api/v1/orgs/org1/connection/setup", json={"create_missing_fields": True})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "connected"
        w.drain()
        assert crm.landed == {"p1": 1}


def test_a_large_backfill_goes_as_one_bulk_job_while_live_unlocks_keep_flowing(
    sqlite_url: str, tmp_path: Path, crm: FakeCrm
) -> None:
    crm.bulk_jobs.append(Hold(until=lambda: crm.pushed("live")))  # the job waits on the CRM
    with fake(sqlite_url, tmp_path, crm, bulk_threshold=50, bulk_max=100) as w:
        for i in range(120):
            w.person(f"b{i:03d}")
            w.unlock("org1", f"b{i:03d}", "u1")
        w.connect("org1")
        w.person("live1")
        w.unlock("org1", "live1", "u1")
        w.drain()
        assert [len(job) for job in crm.jobs] == [100], "one job of bulk_max; 20 go in batches"
        assert "live1" not in crm.jobs[0], "a live unlock never waits for a bulk job"
        assert len(crm.landed) == 121 and set(crm.landed.values()) == {1}
        assert {op["status"] for op in w.operations()} == {"inserted"}


def test_bulk_jobs_overlap_up_to_bulk_parallel_with_disjoint_people(
    sqlite_url: str, tmp_path: Path, crm: FakeCrm
) -> None:
    """While the CRM processes one job the next is planned and sent: two are open at once,
    they never share a person, and every person lands exactly once."""
    both_open = Hold(until=lambda: crm.most_open_jobs >= 2)  # held until a second job opens
    crm.bulk_jobs.extend([both_open, both_open])
    spec = {"bulk_threshold": 50, "bulk_max": 100, "bulk_parallel": 2}
    with fake(sqlite_url, tmp_path, crm, **spec) as w:
        for i in range(250):
            w.person(f"b{i:03d}")
            w.unlock("org1", f"b{i:03d}", "u1")
        w.connect("org1")
        w.drain()
        assert crm.most_open_jobs == 2, "the second job opened while the first was in the CRM"
        assert [len(job) for job in crm.jobs[:2]] == [100, 100]
        assert not set(crm.jobs[0]) & set(crm.jobs[1]), "jobs never share a person"
        assert len(crm.landed) == 250 and set(crm.landed.values()) == {1}
        assert {op["status"] for op in w.operations()} == {"inserted"}


def test_a_provider_without_settings_refuses_them(w: World) -> None:
    w.connect("org1")
    r = w.api.patch("/api/v1/orgs/org1/connection", json={"settings": {"converted_leads": "x"}})
    assert r.status_code == 422
    assert "has no connection settings" in r.json()["detail"]
