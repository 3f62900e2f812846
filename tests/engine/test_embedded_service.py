"""The embedded default end to end: the service's own huey consumer, not the test, syncs."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from crmsync.providers.hubspot.emulator.harness import HubSpotHarness
from crmsync.service import build_service
from crmsync.settings import Settings
from tests.support.consent import consent
from tests.support.routing import HostRouter
from tests.support.world import spec_hosts


def test_an_unlock_reaches_the_crm_through_the_embedded_worker(tmp_path: Path) -> None:
    harness = HubSpotHarness()
    owner = harness.add_user("sam@acme.test", "Sam", "Seller")
    router = HostRouter({host: harness.app for host in spec_hosts("hubspot")})
    settings = Settings(
        data_dir=tmp_path,
        encryption_key=Fernet.generate_key().decode(),
        public_url="http://crmsync.test",
        host_api_keys=["k"],
        provider_overrides={
            "hubspot": {"client_id": harness.client_id, "client_secret": harness.client_secret}
        },
    )
    service = build_service(settings, transport=router)
    with TestClient(service.app, headers={"Authorization": "Bearer k"}) as api:
        assert service.consumer is not None, "the embedded worker must be running"
        api.post("/api/v1/orgs", json={"id": "acme", "name": "Acme"})
        api.post("/api/v1/orgs/acme/users", json={"id": "u1", "email": "sam@acme.test"})
        api.put("/api/v1/people/p1", json={"last_name": "Hopper", "emails": ["g@navy.test"]})
        url = api.post("/api/v1/orgs/acme/connection", json={"provider": "hubspot"}).json()
        location = urlsplit(asyncio.run(consent(router, url["authorize_url"])))
        assert api.get(f"{location.path}?{location.query}").status_code == 200
        started = time.monotonic()
        assert (
            api.post(
                "/api/v1/orgs/acme/unlocks", json={"person_id": "p1", "unlocked_by": "u1"}
            ).status_code
            == 202
        )
        while not harness.records() and time.monotonic() - started < 30:
            time.sleep(0.05)
        [record] = harness.records()
        assert record.person_id == "p1" and record.owner_id == owner
        sync: dict[str, object] = {}
        while sync.get("status") != "inserted" and time.monotonic() - started < 30:
            response = api.get("/api/v1/orgs/acme/people/p1/sync")
            sync = response.json() if response.status_code == 200 else {}
            time.sleep(0.05)
        assert sync["crm_id"] == record.crm_id
