"""A whole crmsync in one test: database, runtime, API client and one provider's emulator."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crmsync.connectors.registry import Provider
from crmsync.db import migrate
from crmsync.db.session import Database
from crmsync.db.tables import Connection
from crmsync.domain.enums import Lane
from crmsync.domain.keys import CONTACT
from crmsync.emulation.harness import EmulatorHarness
from crmsync.engine import inbound, outbox
from crmsync.engine.runner import SyncRunner
from crmsync.engine.runtime import Runtime
from crmsync.engine.tokens import Vault
from crmsync.providers.catalog import BUILTIN
from crmsync.providers.emulators import emulator
from crmsync.service import create_product_app
from crmsync.settings import Settings
from tests.support.consent import consent
from tests.support.routing import HostRouter

API_KEY = "test-host-key"


def spec_hosts(provider: str) -> set[str]:
    [spec] = [p.connector.spec for p in BUILTIN if p.name == provider]
    urls = (spec.api_base, spec.oauth.authorize_url, spec.oauth.token_url)
    return {urlsplit(u).hostname or "" for u in urls}


def settings_for_test(
    db_url: str, data_dir: Path, provider_overrides: dict[str, Any], **settings: Any
) -> Settings:
    """Settings for one test's crmsync: its own database and key, no waits between retries."""
    fast_retries: dict[str, Any] = {
        "retry_base_seconds": 0.0,
        "retry_max_seconds": 0.0,
        "http_retry_base_seconds": 0.0,
    }
    return Settings(
        data_dir=data_dir,
        database_url=db_url,
        encryption_key=Fernet.generate_key().decode(),
        public_url="http://crmsync.test",
        host_api_keys=[API_KEY],
        provider_overrides=provider_overrides,
        **{**fast_retries, **settings},
    )


class Host:
    """A migrated database, a runtime offering ``offered``, the host API and a runner."""

    def __init__(
        self,
        settings: Settings,
        transport: httpx.AsyncBaseTransport,
        offered: tuple[Provider, ...] = BUILTIN,
    ) -> None:
        self.settings = settings
        migrate.upgrade(settings.database_url)
        self.rt = Runtime(
            settings=self.settings,
            db=Database(settings.database_url),
            vault=Vault(self.settings.encryption_key),
            transport=transport,
            offered=offered,
        )
        self.kicks: list[str] = []
        self.rt.kick = self.kicks.append
        self.api = TestClient(
            create_product_app(self.rt), headers={"Authorization": f"Bearer {API_KEY}"}
        )
        self.runner = SyncRunner(self.rt)

    # -- host actions ---------------------------------------------------------------
    def org(self, org_id: str = "org1", users: dict[str, str] | None = None) -> str:
        assert self.api.post("/api/v1/orgs", json={"id": org_id, "name": org_id}).status_code == 201
        for user_id, email in (users or {}).items():
            r = self.api.post(f"/api/v1/orgs/{org_id}/users", json={"id": user_id, "email": email})
            assert r.status_code == 201, r.text
        return org_id

    def person(self, person_id: str, **fields: Any) -> dict[str, Any]:
        body = {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "emails": [f"{person_id}@example.com"],
            "company": "Analytical Engines",
            "title": "Engineer",
            **fields,
        }
        r = self.api.put(f"/api/v1/people/{person_id}", json=body)
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    def unlock(self, org_id: str, person_id: str, user_id: str) -> None:
        r = self.api.post(
            f"/api/v1/orgs/{org_id}/unlocks",
            json={"person_id": person_id, "unlocked_by": user_id},
        )
        assert r.status_code == 202, r.text

    def status(self, org_id: str = "org1") -> dict[str, Any]:
        r = self.api.get(f"/api/v1/orgs/{org_id}/connection")
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    def operations(self, org_id: str = "org1", **params: Any) -> list[dict[str, Any]]:
        r = self.api.get(f"/api/v1/orgs/{org_id}/operations", params={"limit": 500, **params})
        assert r.status_code == 200, r.text
        result: list[dict[str, Any]] = r.json()
        return result

    # -- engine -------------------------------------------------------------------------
    def drain(self, rounds: int = 60) -> None:
        """Run the engine until no connection has due work."""
        for _ in range(rounds):
            with self.rt.db.session() as session:
                outbox.recover_expired_leases(session)
                due = outbox.connections_with_due_work(session)
                due += [c for c in inbound.connections_reading_due(session) if c not in due]
            if not due:
                return
            for connection_id in due:
                self.runner.run(connection_id, budget_seconds=60)
        raise AssertionError(f"work still pending after {rounds} rounds")

    def sync_back(self, org_id: str = "org1", full: bool = False) -> None:
        """ "Sync now" through the host API, then run the engine until nothing is due."""
        r = self.api.post(f"/api/v1/orgs/{org_id}/connection/sync", json={"full": full})
        assert r.status_code == 202, r.text
        self.drain()

    def connection_row(self, session: Session, org_id: str = "org1") -> Connection:
        """The org's latest connection, attached to ``session`` (to change it)."""
        conn = session.scalars(
            select(Connection)
            .where(Connection.org_id == org_id)
            .order_by(Connection.connected_at.desc())
        ).first()
        assert conn is not None
        return conn

    def connection(self, org_id: str = "org1") -> Connection:
        with self.rt.db.session() as session:
            conn = session.scalars(
                select(Connection)
                .where(Connection.org_id == org_id)
                .order_by(Connection.connected_at.desc())
            ).first()
            assert conn is not None
            return conn

    def enqueue(self, person_ids: list[str], lane: Lane = Lane.REFRESH) -> None:
        with self.rt.db.session() as session:
            outbox.enqueue(session, self.connection().id, CONTACT, person_ids, lane)

    def close(self) -> None:
        self.api.close()
        self.rt.db.dispose()


class World(Host):
    """A whole crmsync talking to one provider's emulator, in process."""

    def __init__(self, db_url: str, data_dir: Path, provider: str, **settings: Any) -> None:
        self.provider = provider
        self.harness: EmulatorHarness = emulator(provider)(served=False)
        self.router = HostRouter()
        for host in spec_hosts(provider) | set(self.harness.extra_hosts):
            self.router.add(host, self.harness.app)
        credentials = {
            "client_id": self.harness.client_id,
            "client_secret": self.harness.client_secret,
        }
        super().__init__(
            settings_for_test(db_url, data_dir, {provider: credentials}, **settings), self.router
        )
        self.crm_admin_id: str | None = None

    def connect(self, org_id: str, skip_backfill: bool = False) -> dict[str, Any]:
        r = self.api.post(
            f"/api/v1/orgs/{org_id}/connection",
            json={"provider": self.provider, "skip_backfill": skip_backfill},
        )
        assert r.status_code == 201, r.text
        return self.authorize(r.json()["authorize_url"])

    def reconnect(self, org_id: str) -> dict[str, Any]:
        r = self.api.post(f"/api/v1/orgs/{org_id}/connection/reconnect")
        assert r.status_code == 201, r.text
        return self.authorize(r.json()["authorize_url"])

    def authorize(self, authorize_url: str) -> dict[str, Any]:
        location = asyncio.run(consent(self.router, authorize_url, self.harness.consent_choices))
        parts = urlsplit(location)
        assert parts.hostname == "crmsync.test", location
        r = self.api.get(f"{parts.path}?{parts.query}")
        assert r.status_code == 200, r.text
        return self.status()

    def records_by_person(self) -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = {}
        for record in self.harness.records():
            if record.person_id:
                found.setdefault(record.person_id, []).append(record)
        return found


@contextmanager
def world(db_url: str, data_dir: Path, provider: str, **settings: Any) -> Iterator[World]:
    w = World(db_url, data_dir, provider, **settings)
    try:
        yield w
    finally:
        w.close()
