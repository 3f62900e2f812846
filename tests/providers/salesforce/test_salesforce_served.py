"""The emulator served by uvicorn, as ``crmsync emulate salesforce`` runs it: the token's
``instance_url`` names the served port, so crmsync needs nothing but ``settings_for``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import insert

from crmsync.cli.serving import ServerThread
from crmsync.db.migrate import upgrade
from crmsync.db.tables import Org, Person, Unlock, User
from crmsync.domain.enums import ConnectionStatus
from crmsync.engine import outbox
from crmsync.engine.runner import SyncRunner
from crmsync.engine.runtime import Runtime
from crmsync.providers.salesforce.emulator.harness import SalesforceHarness
from crmsync.services import connections
from crmsync.settings import Settings
from tests.support.consent import consent


def test_a_served_emulator_is_reached_at_the_instance_url_it_hands_out(
    sqlite_url: str, tmp_path: Path
) -> None:
    harness = SalesforceHarness(served=True)
    owner = harness.add_user("owner@acme.test", "Olive", "Owner")
    server = ServerThread(harness.app).start()
    try:
        settings = Settings(
            data_dir=tmp_path,
            database_url=sqlite_url,
            encryption_key=Fernet.generate_key().decode(),
            public_url="http://127.0.0.1:9",
            http_retry_base_seconds=0.0,
            provider_overrides={"salesforce": harness.settings_for(server.url)},
        )
        upgrade(sqlite_url)
        rt = Runtime.from_settings(settings)
        with rt.db.session() as session:
            session.add(Org(id="acme", name="Acme"))
            session.add(User(id="u1", org_id="acme", email="owner@acme.test", role="admin"))
        with rt.db.session() as session:
            session.execute(
                insert(Person),
                [
                    {
                        "person_id": "p1",
                        "last_name": "Lovelace",
                        "emails": ["ada@example.com"],
                        "phones": [],
                        "content_hash": "seed",
                    },
                ],
            )
            session.execute(
                insert(Unlock), [{"org_id": "acme", "person_id": "p1", "user_id": "u1"}]
            )
        with rt.db.session() as session:
            url, state = connections.start_authorization(rt, session, "acme", "salesforce", False)
        assert url.startswith(f"{server.url}/services/oauth2/authorize?")
        location = asyncio.run(consent(httpx.AsyncHTTPTransport(), url))
        code = parse_qs(urlsplit(location).query)["code"][0]
        conn = asyncio.run(connections.complete_authorization(rt, "salesforce", state.state, code))
        assert conn.status == ConnectionStatus.CONNECTED
        assert conn.settings["instance_url"] == server.url
        SyncRunner(rt).run(conn.id, budget_seconds=30)
        with rt.db.session() as session:
            assert not outbox.connections_with_due_work(session)
        [lead] = harness.emulator.records("Lead")
        assert (lead["Acme_Person_ID__c"], lead["LastName"], lead["Company"]) == (
            "p1",
            "Lovelace",
            "[not provided]",
        )
        assert lead["OwnerId"] == owner
        rt.db.dispose()
    finally:
        server.stop()
