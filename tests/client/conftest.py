"""The client against the real host API, in-process: a World (database, runtime, the HubSpot
emulator) whose ``create_app`` the client reaches through a TestClient or an ASGI transport."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from crmsync.api.app import create_app
from crmsync.client import AsyncClient, Client
from crmsync.db.tables import Operation
from tests.support.world import API_KEY, World, world

METRICS_TOKEN = "metrics-token-for-tests"


@pytest.fixture
def w(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    with world(sqlite_url, tmp_path, "hubspot", metrics_token=METRICS_TOKEN) as instance:
        yield instance


@pytest.fixture
def app(w: World) -> FastAPI:
    """The host API alone, as ``create_app`` builds it (no admin UI)."""
    return create_app(w.rt)


@pytest.fixture
def client(app: FastAPI) -> Iterator[Client]:
    """A sync client over a TestClient that carries no key of its own: the client's counts."""
    with TestClient(app) as http, Client(http=http, api_key=API_KEY) as crmsync:
        yield crmsync


def async_client(app: FastAPI) -> AsyncClient:
    """An async client over the ASGI app; the caller closes its httpx client."""
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://crmsync")
    return AsyncClient(http=http, api_key=API_KEY)


def mark_failed(w: World, person_id: str) -> None:
    """Turn a person's writes into failures, as a CRM refusal would leave them."""
    with w.rt.db.session() as session:
        session.execute(
            update(Operation)
            .where(Operation.local_id == person_id)
            .values(status="failed", reason="refused by the test")
        )
