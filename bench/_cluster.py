"""Shared by bench/scaling.py and bench/fanout.py: many CRM accounts, workers, real connections.

* ``PortalCluster``: the multi-portal HubSpot emulator of ``bench/_portals.py``, started in its
  own process and asked ``/_cluster/`` questions.
* PostgreSQL schemas, Redis, ``crmsync worker`` processes and CPU accounting from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import authlib.deprecate  # noqa: F401  (puts an "always" filter first; ours goes above it)

warnings.filterwarnings("ignore", message=".*httpx2.*")

import httpx
from bench._emulator import stop_process
from bench._portals import PORTAL_HEADER, owner_email
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from crmsync.cli.serving import free_port
from crmsync.db.migrate import upgrade
from crmsync.db.tables import Operation, Org, Person, User, WorkItem
from crmsync.domain.commands import PersonRecord
from crmsync.domain.enums import OpStatus
from crmsync.engine.runtime import Runtime
from crmsync.services import connections
from crmsync.services.people import content_hash
from crmsync.settings import Settings
from tests.support.consent import consent

WORKER = [sys.executable, "-m", "crmsync.cli.main", "worker"]
PG_URL = os.environ.get(
    "CRMSYNC_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_scale"
)
PORTALS_SCRIPT = Path(__file__).with_name("_portals.py")


def org_id(index: int) -> str:
    return f"org{index:04d}"


class PortalCluster:
    """The emulator process, seen from a bench script."""

    def __init__(self, portals: int, logs: Path, rate_limited: bool = True) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log = (logs / "emulator.log").open("ab")
        args = ["--portals", str(portals), "--port", str(self.port)]
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(PORTALS_SCRIPT),
                *args,
                *([] if rate_limited else ["--no-rate-limit"]),
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line:
            raise SystemExit(f"the emulator did not start; see {logs / 'emulator.log'}")
        self.settings: dict[str, Any] = json.loads(line)["settings"]
        self.http = httpx.Client(base_url=self.url, timeout=120)
        wait_until(self._answers, 60, "the emulator", 0.1)

    def _answers(self) -> bool:
        try:
            return self.http.get("/_cluster/count").status_code == 200
        except httpx.TransportError:
            return False

    def ask(self, name: str, body: Any = None, **params: str) -> Any:
        """A ``/_cluster/`` question: count, summary (title=...), records, lookup (pairs)."""
        if body is not None:
            return self.http.post(f"/_cluster/{name}", json=body).json()
        return self.http.get(f"/_cluster/{name}", params=params).json()

    def stop(self) -> None:
        self.http.close()
        stop_process(self.process)


class Stack:
    """A fresh schema, Redis db, settings and the environment worker processes inherit."""

    def __init__(self, args: argparse.Namespace, cluster: PortalCluster, logs: Path) -> None:
        self.admin = create_engine(
            _ensure_database(args.database_url), isolation_level="AUTOCOMMIT"
        )
        self.schema = f"bench_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()  # this bench's own Redis database
        db_url = f"{args.database_url}?options=-csearch_path%3D{self.schema}"
        values: dict[str, Any] = {
            "database_url": db_url,
            "redis_url": args.redis_url,
            "queue_name": f"crmsync-{self.schema}",  # other runs may share this Redis
            "encryption_key": Fernet.generate_key().decode(),
            "data_dir": str(logs),
            "public_url": "http://127.0.0.1:9",
            "worker_threads": args.threads,
            "enabled_providers": ["hubspot"],
            "provider_overrides": {"hubspot": cluster.settings},
        }
        self.env = {**os.environ}
        for key, value in values.items():
            self.env[f"CRMSYNC_{key.upper()}"] = (
                value if isinstance(value, str) else json.dumps(value)
            )
        upgrade(db_url)
        self.rt = Runtime.from_settings(Settings(**values))

    def cpu_meter(self, workers: Workers, cluster: PortalCluster) -> Cpu:
        groups = {
            "workers": workers.pids,
            "emulator": [cluster.process.pid],
            "bench": [os.getpid()],
        }
        return Cpu(groups, str(make_url(self.rt.db.url).database))

    def drop(self) -> None:
        self.rt.db.engine.dispose()
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self.admin.dispose()

    def outbox_left(self) -> int:
        with self.rt.db.session() as session:
            return int(session.scalar(select(func.count()).select_from(WorkItem)) or 0)

    def operations(self) -> dict[str, int]:
        with self.rt.db.session() as session:
            rows = session.execute(select(Operation.status, func.count()).group_by("status"))
            return {str(status): int(n) for status, n in rows}

    def failed(self) -> int:
        ops = self.operations()
        return sum(ops.get(s, 0) for s in (OpStatus.FAILED, OpStatus.RETRYING, OpStatus.PENDING))


def _ensure_database(url: str) -> str:
    """Creates the bench's database when missing; returns the URL."""
    parsed = make_url(url)
    server = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        found = conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}
        )
        if not found:
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    server.dispose()
    return url


class Workers:
    """``crmsync worker`` processes (no API process: the scripts use the service layer)."""

    def __init__(self, env: dict[str, str], logs: Path, count: int) -> None:
        self.logs = [logs / f"worker{i}.{uuid.uuid4().hex[:6]}.log" for i in range(count)]
        self.processes = [
            subprocess.Popen(
                [*WORKER, "--log-level", os.environ.get("CRMSYNC_BENCH_LOG", "warning")],
                env=env,
                stdout=log.open("ab"),
                stderr=subprocess.STDOUT,
            )
            for log in self.logs
        ]
        deadline = time.monotonic() + 90
        while not all("crmsync worker:" in log.read_text() for log in self.logs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                raise SystemExit(f"workers did not start; see {self.logs}")
            time.sleep(0.2)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


class Cpu:
    """CPU of named process groups and of the whole machine, in % of one core, between
    construction and ``report()``. ``postgres`` is the backends serving ``database`` (found by
    their process titles), so other users' queries on the same server are not counted."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, pids: dict[str, list[int]], database: str) -> None:
        self.pids, self.database = pids, f" {database} "
        self.start = self._sample()

    def _sample(self) -> dict[str, dict[int, float]]:
        groups = {name: {p: _proc_cpu(p) for p in pids} for name, pids in self.pids.items()}
        groups["postgres"] = {p: _proc_cpu(p) for p in self._backends()}
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        groups["machine busy"] = {0: (sum(fields) - fields[3] - fields[4]) / self.TICK}
        groups["wall"] = {0: time.monotonic()}
        return groups

    def _backends(self) -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    title = cmdline.read().decode(errors="replace")
            except OSError:
                continue
            if title.startswith("postgres:") and self.database in title:
                found.append(int(entry))
        return found

    def report(self) -> dict[str, float]:
        end = self._sample()
        wall = end.pop("wall")[0] - self.start["wall"][0]
        return {
            name: 100 * sum(v - self.start[name].get(p, 0.0) for p, v in per_pid.items()) / wall
            for name, per_pid in end.items()
        }


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / Cpu.TICK


def cpu_line(usage: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.0f}%" for name, value in usage.items())


def seed_orgs(rt: Runtime, count: int) -> list[str]:
    """Orgs and their admins (emails match each portal's owner, so records get an owner)."""
    with rt.db.session() as session:
        session.execute(insert(Org), [{"id": org_id(i), "name": f"Org {i}"} for i in range(count)])
        users = [
            {"id": f"u-{org_id(i)}", "org_id": org_id(i), "email": owner_email(i), "role": "admin"}
            for i in range(count)
        ]
        session.execute(insert(User), users)
    return [org_id(i) for i in range(count)]


def person_fields(number: int, title: str) -> dict[str, Any]:
    data = PersonRecord(
        first_name="Bench",
        last_name=f"Person {number}",
        emails=(f"person{number}@people.test",),
        company=f"Company {number % 97}",
        title=title,
    )
    values = {**dataclasses.asdict(data), "emails": list(data.emails), "phones": list(data.phones)}
    return {**values, "content_hash": content_hash(data)}


def insert_people(rt: Runtime, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 5000):
        with rt.db.session() as session:
            session.execute(insert(Person), rows[start : start + 5000])


def connect_all(rt: Runtime, cluster: PortalCluster, concurrency: int = 8) -> dict[str, str]:
    """Every org i authorises portal i through the real OAuth flow; org → connection id."""
    with rt.db.session() as session:
        orgs = sorted(session.scalars(select(Org.id)))

    async def one(index: int, org: str, gate: asyncio.Semaphore) -> tuple[str, str]:
        async with gate:
            with rt.db.session() as session:
                url, state = connections.start_authorization(rt, session, org, "hubspot", False)
                key = state.state
            location = await consent(_SignedIn(index), url)  # the admin's browser
            code = parse_qs(urlsplit(location).query)["code"][0]
            conn = await connections.complete_authorization(rt, "hubspot", key, code, None, None)
            return org, conn.id

    async def run() -> dict[str, str]:
        gate = asyncio.Semaphore(concurrency)
        return dict(await asyncio.gather(*(one(i, org, gate) for i, org in enumerate(orgs))))

    return asyncio.run(run())


class _SignedIn(httpx.AsyncHTTPTransport):
    """A browser signed in to one portal: its admin sees that portal's consent page."""

    def __init__(self, portal: int) -> None:
        super().__init__()
        self.portal = portal

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.headers[PORTAL_HEADER] = str(self.portal)
        return await super().handle_async_request(request)


def wait_until(check: Callable[[], bool], timeout: float, what: str, every: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def logs_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"crmsync-{prefix}-"))
