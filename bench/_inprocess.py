"""crmsync's engine in the bench's own process, for bench/backfill.py and bench/vs_sdk.py.

A runtime on its own database, N people unlocked by one org's admin (seeded in batches, straight
into the tables), the connection made through the emulator's consent page, and the runner driven
until nothing is due.
"""

from __future__ import annotations

import asyncio
import atexit
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, insert, text

from crmsync.db.migrate import upgrade
from crmsync.db.tables import Org, Person, Unlock, User
from crmsync.engine import outbox
from crmsync.engine.runner import SyncRunner
from crmsync.engine.runtime import Runtime
from crmsync.services import connections
from crmsync.settings import Settings
from tests.support.consent import consent

ORG, USER, OWNER_EMAIL = "bench", "u1", "owner@bench.test"
SEED_BATCH = 5000


def person(i: int) -> dict[str, str]:
    """Person ``i``, as every side gets it."""
    return {
        "person_id": f"p{i:07d}",
        "first_name": "Person",
        "last_name": f"Number {i}",
        "email": f"p{i}@bench.example",
        "company": f"Company {i % 997}",
        "title": "Engineer",
    }


def runtime(
    provider: str,
    overrides: dict[str, Any],
    prefix: str,
    database_url: str = "",
    public_url: str = "http://127.0.0.1:9",
) -> Runtime:
    """A runtime whose ``provider`` points where ``overrides`` say (an emulator's banner
    settings), on a fresh schema of the PostgreSQL ``database_url`` (dropped at exit), or
    else on SQLite in a fresh temporary directory; migrated either way."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    db_url = fresh_schema(database_url) if database_url else f"sqlite:///{tmp}/bench.db"
    settings = Settings(
        data_dir=tmp,
        database_url=db_url,
        encryption_key=Fernet.generate_key().decode(),
        public_url=public_url,
        provider_overrides={provider: overrides},
    )
    upgrade(db_url)
    return Runtime.from_settings(settings)


def fresh_schema(database_url: str) -> str:
    """A new schema of ``database_url`` for this run (a second run into the same tables
    would fail on the first's org), dropped when the process exits."""
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    atexit.register(drop)
    separator = "&" if "?" in database_url else "?"
    return f"{database_url}{separator}options=-csearch_path%3D{schema}"


def seed(rt: Runtime, people: int) -> None:
    """The org, its admin and ``people`` people (:func:`person`), each unlocked by the admin."""
    with rt.db.session() as session:
        session.add(Org(id=ORG, name="Bench"))
        session.add(User(id=USER, org_id=ORG, email=OWNER_EMAIL, role="admin"))
    for start in range(0, people, SEED_BATCH):
        batch = [person(i) for i in range(start, min(people, start + SEED_BATCH))]
        with rt.db.session() as session:
            session.execute(
                insert(Person),
                [
                    {
                        "person_id": p["person_id"],
                        "first_name": p["first_name"],
                        "last_name": p["last_name"],
                        "emails": [p["email"]],
                        "phones": [],
                        "company": p["company"],
                        "title": p["title"],
                        "content_hash": "seed",
                    }
                    for p in batch
                ],
            )
            session.execute(
                insert(Unlock),
                [{"org_id": ORG, "person_id": p["person_id"], "user_id": USER} for p in batch],
            )
    if rt.db.engine.dialect.name == "postgresql":
        # What autovacuum does within a minute of a bulk import: without statistics the
        # planner picks plans for empty tables (measured: 145 records/s instead of ~1,500).
        with rt.db.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()


def connect(rt: Runtime, provider: str) -> str:
    """The org's connection to ``provider``, through its consent page; returns its ID."""
    with rt.db.session() as session:
        url, state = connections.start_authorization(rt, session, ORG, provider, False)
    location = asyncio.run(consent(httpx.AsyncHTTPTransport(), url))
    code = parse_qs(urlsplit(location).query)["code"][0]
    conn = asyncio.run(
        connections.complete_authorization(rt, provider, state.state, code, None, None)
    )
    return conn.id


def drive(rt: Runtime, runner: SyncRunner, connection_id: str) -> None:
    """Run until nothing is due (one run normally; again if work arrived as it ended)."""
    while True:
        runner.run(connection_id, budget_seconds=3600)
        with rt.db.session() as session:
            if not outbox.connections_with_due_work(session):
                return
