"""Fixtures for the Salesforce tests: a whole crmsync against the emulated org."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from simple_salesforce import Salesforce
from sqlalchemy import select

from crmsync.db.tables import Connection, Operation
from crmsync.emulation import ManualClock
from crmsync.providers.salesforce.emulator import (
    SalesforceEmulator,
    SalesforceEmulatorConfig,
    create_app,
)
from crmsync.providers.salesforce.emulator.harness import SalesforceHarness
from crmsync.providers.salesforce.emulator.harness_sales import SalesRecords
from tests.providers.salesforce.official_client import official_client
from tests.providers.salesforce.sales_org import START
from tests.support.world import World, world

INSTANCE = "https://crmsync-demo.my.salesforce.com"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_world(db_url: str, tmp_path: Path) -> Iterator[World]:
    with world(db_url, tmp_path, "salesforce") as instance:
        instance.org("org1", {"u-admin": "admin@acme.test", "u-member": "member@acme.test"})
        instance.crm_admin_id = instance.harness.add_user("admin@acme.test", "Ann", "Admin")
        yield instance


@pytest.fixture
def w(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    yield from make_world(sqlite_url, tmp_path)


@pytest.fixture
def w_any_db(db_url: str, tmp_path: Path) -> Iterator[World]:
    """The same world on SQLite and on PostgreSQL (for what depends on row locks)."""
    yield from make_world(db_url, tmp_path)


def harness(w: World) -> SalesforceHarness:
    assert isinstance(w.harness, SalesforceHarness)
    return w.harness


def org(w: World) -> SalesforceEmulator:
    return harness(w).emulator


def calls(w: World, endpoint: str) -> int:
    method, path = endpoint.split(" ", 1)
    return org(w).counters.get(method, "/services/data/{version}" + path)


def leads(w: World) -> list[dict[str, Any]]:
    return org(w).records("Lead")


def set_connection_settings(w: World, **values: Any) -> None:
    with w.rt.db.session() as session:
        conn = session.get_one(Connection, w.connection().id)
        conn.settings = {**conn.settings, **values}


def operations_of(w: World) -> list[Operation]:
    with w.rt.db.session() as session:
        return list(session.scalars(select(Operation).order_by(Operation.id)))


def emulator_client(
    app: Any, base_url: str = "https://crmsync-demo.my.salesforce.com"
) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


# -- the sales-object tests: an emulated org on a manual clock, read by simple-salesforce ----
@pytest.fixture
def app() -> FastAPI:
    return create_app(SalesforceEmulatorConfig(clock=ManualClock(start=START.timestamp())))


@pytest.fixture
def emulator(app: FastAPI) -> SalesforceEmulator:
    org: SalesforceEmulator = app.state.emulator
    return org


@pytest.fixture
def seed(emulator: SalesforceEmulator) -> SalesRecords:
    return SalesRecords(emulator)


@pytest.fixture
def sf(app: FastAPI, tmp_path: Path) -> Iterator[Salesforce]:
    with official_client(app, tmp_path) as client:
        yield client
