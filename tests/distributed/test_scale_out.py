"""Scale-out mode for real: an API process and two worker processes on PostgreSQL + Redis,
a served CRM emulator, and every unlocked person in the CRM exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from crmsync.cli.serving import free_port
from tests.conftest import PG_AVAILABLE, PG_URL, REQUIRE_PG
from tests.support.consent import FormParser
from tests.support.services import REDIS_URL, redis_available


@pytest.fixture
def schema() -> Iterator[str]:
    if not (PG_AVAILABLE and redis_available()):
        if REQUIRE_PG:
            pytest.fail("scale-out test needs PostgreSQL and Redis")
        pytest.skip("PostgreSQL or Redis not reachable")
    name = f"s_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "crmsync.cli.main", *args],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_up(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def test_api_and_two_workers_on_postgres_and_redis_sync_everyone_once(
    schema: str, tmp_path: Path
) -> None:
    emu_port, api_port = free_port(), free_port()
    emulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crmsync.cli.main",
            "emulate",
            "hubspot",
            "--port",
            str(emu_port),
            "--user",
            "sam@acme.test:Sam:Seller",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    processes: list[subprocess.Popen[str]] = [emulator]
    try:
        assert emulator.stdout is not None
        banner = json.loads(emulator.stdout.readline())
        env = {
            **os.environ,
            "CRMSYNC_DATABASE_URL": f"{PG_URL}?options=-csearch_path%3D{schema}",
            "CRMSYNC_REDIS_URL": REDIS_URL,
            "CRMSYNC_QUEUE_NAME": f"crmsync-{schema}",
            "CRMSYNC_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "CRMSYNC_HOST_API_KEYS": '["k"]',
            "CRMSYNC_PUBLIC_URL": f"http://127.0.0.1:{api_port}",
            "CRMSYNC_DATA_DIR": str(tmp_path),
            "CRMSYNC_ENABLED_PROVIDERS": '["hubspot"]',
            "CRMSYNC_PROVIDER_OVERRIDES": json.dumps({"hubspot": banner["settings"]}),
        }
        subprocess.run(
            [sys.executable, "-m", "crmsync.cli.main", "db", "upgrade"], env=env, check=True
        )
        processes.append(
            _start(["serve", "--no-worker", "--port", str(api_port)], env, tmp_path / "api.log")
        )
        for n in (1, 2):
            processes.append(_start(["worker"], env, tmp_path / f"worker{n}.log"))
        base = f"http://127.0.0.1:{api_port}"
        _wait_up(f"{base}/healthz")
        _drive(base, banner["base_url"])
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=15)


def _drive(base: str, emulator_url: str) -> None:
    with httpx.Client(base_url=base, headers={"Authorization": "Bearer k"}, timeout=30) as api:
        api.post("/api/v1/orgs", json={"id": "acme", "name": "Acme"}).raise_for_status()
        user = {"id": "u1", "email": "sam@acme.test"}
        api.post("/api/v1/orgs/acme/users", json=user).raise_for_status()
        for i in range(200):
            body = {"last_name": f"P{i}", "emails": [f"p{i}@x.test"]}
            api.put(f"/api/v1/people/p{i}", json=body).raise_for_status()
        before = [{"person_id": f"p{i}", "unlocked_by": "u1"} for i in range(100)]
        api.post("/api/v1/orgs/acme/unlocks", json=before).raise_for_status()
        authorize = api.post("/api/v1/orgs/acme/connection", json={"provider": "hubspot"})
        with httpx.Client(timeout=30) as browser:
            page = browser.get(authorize.json()["authorize_url"])
            form = FormParser()
            form.feed(page.text)
            answer = browser.post(
                urljoin(str(page.url), form.action or ""), data={**form.fields, "decision": "allow"}
            )
            assert browser.get(answer.headers["location"]).status_code == 200
        after = [{"person_id": f"p{i}", "unlocked_by": "u1"} for i in range(100, 200)]
        api.post("/api/v1/orgs/acme/unlocks", json=after).raise_for_status()
        deadline = time.monotonic() + 240
        counts: dict[str, int] = {}
        while time.monotonic() < deadline:
            counts = api.get("/api/v1/orgs/acme/connection").json()["counts"]
            if counts["synced"] == 200 and counts["pending"] == 0:
                break
            time.sleep(0.25)
        assert counts == {"synced": 200, "pending": 0, "failed": 0, "skipped": 0}
    contacts = httpx.get(f"{emulator_url}/_emulator/contacts").json()
    people = [c["properties"]["acme_person_id"] for c in contacts["results"]]
    assert sorted(people) == sorted(f"p{i}" for i in range(200))
