"""Fault soak: the whole system under every fault, with workers killed, must lose nothing.

An API process and several worker processes run on PostgreSQL + Redis against emulators of
every CRM, each served by a process of its own. People are seeded and refreshed through the
batch endpoint (PUT /api/v1/people) and unlocked in waves. Each emulator injects every fault
kind (429, 500, 503, timeouts before and after the write, connection resets) at --fault-rate
each, until everything has settled or for --fault-seconds; workers are killed with SIGKILL and
restarted every --kill-every seconds; one connection's tokens are revoked mid-run and it is
reconnected through the consent page.

At the end each CRM's own data is checked (read from the emulator process): every unlocked
person exactly once, with the latest values and the right owner; every operation row in the
database settled (none pending, retrying, waiting for a reconnect or failed); no work item
pending or leased. It prints the figures and exits non-zero on any loss, duplicate or wrong
value. `make test` runs 2,000 people (tests/distributed/test_soak.py):

    .venv/bin/python bench/soak.py --people 2000 --pause 3 --kills 3 --kill-every 15 \
        --fault-seconds 60 --crm-timeout 1
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

warnings.filterwarnings("ignore", message=".*httpx2.*")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from bench._emulator import EmulatorProcess, wait_for
from bench._soak_check import verify
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from crmsync.cli.serving import free_port
from crmsync.providers.emulators import EMULATORS
from tests.support.consent import FormParser

PG_URL = os.environ.get("CRMSYNC_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
FAULT_KINDS = ("429", "500", "503", "timeout_before", "timeout_after", "reset")
KEY = "soak-key"
BATCH = 1000  # people per PUT /api/v1/people (its maximum), unlocks per POST
RECORDS_PATH = "/_emulator/soak/records"  # under /_emulator/: never faulted or rate limited
_T = TypeVar("_T")


def chunks(items: Sequence[_T], size: int = BATCH) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- the emulator processes ----------------------------------------------------------------
def serve_emulator(name: str, port: int) -> None:
    """Child process: one provider's emulator, plus a read-only route with its records as the
    harness sees them, so the driver checks the CRM's own data without sharing its GIL."""
    import uvicorn
    from starlette.responses import JSONResponse

    harness = EMULATORS[name](served=True, rate_limited=False)
    owner_id = harness.add_user(f"owner@{name}.test", "Olive", "Owner")
    base = f"http://127.0.0.1:{port}"

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == RECORDS_PATH:
            records = [
                {"person_id": r.person_id, "title": r.values.get("title"), "owner_id": r.owner_id}
                for r in harness.records()
            ]
            await JSONResponse(records)(scope, receive, send)
        else:
            await harness.app(scope, receive, send)

    banner = {
        "base_url": base,
        "settings": harness.settings_for(base),
        "owner_id": owner_id,
        "consent_choices": harness.consent_choices,
    }
    print(json.dumps(banner), flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


class Emulator(EmulatorProcess):
    """One CRM emulator in its own process (:func:`serve_emulator`), driven over HTTP."""

    def __init__(self, name: str, logs: Path) -> None:
        log = (logs / f"emulator-{name}.log").open("ab")
        command = [sys.executable, __file__, "--serve-emulator", name, "--port", str(free_port())]
        super().__init__(name, command, stderr=log, timeout=120)
        self.owner_id: str = self.banner["owner_id"]
        self.consent_choices: dict[str, str] = self.banner["consent_choices"]

    def faults(self, rate: float, seed: int, hang: float = 2.5) -> None:
        """Every fault kind at ``rate``; a timeout hangs ``hang`` seconds, longer than
        crmsync waits."""
        rates = {kind: rate for kind in FAULT_KINDS} if rate else {}
        body = {"rates": rates, "seed": seed, "timeout_sleep_seconds": hang}
        self.api("PUT", "/_emulator/faults", json=body)

    def injected(self) -> dict[str, int]:
        return dict(self.api("GET", "/_emulator/faults")["injected"])

    def revoke_tokens(self) -> None:
        self.api("POST", "/_emulator/tokens/revoke")
        self.api("POST", "/_emulator/tokens/expire")

    def records(self) -> list[dict[str, Any]]:
        """Its records as the harness sees them: person ID, title and owner ID."""
        records: list[dict[str, Any]] = self.api("GET", RECORDS_PATH)
        return records


# -- the crmsync processes -----------------------------------------------------------------
class Processes:
    def __init__(self, env: dict[str, str], logs: Path, workers: int, api_port: int) -> None:
        self.env, self.logs = env, logs
        self.api = self._start(["serve", "--no-worker", "--port", str(api_port)], "api")
        self.workers = [self._start(["worker"], f"worker{i}") for i in range(workers)]
        self.kills = 0

    def _start(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "crmsync.cli.main", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill_one(self, rng: random.Random) -> None:
        index = rng.randrange(len(self.workers))
        self.workers[index].send_signal(signal.SIGKILL)
        self.workers[index].wait()
        self.kills += 1
        self.workers[index] = self._start(["worker"], f"worker{index}")

    def stop(self) -> None:
        for process in [self.api, *self.workers]:
            process.terminate()
        for process in [self.api, *self.workers]:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def connect(api: httpx.Client, org: str, emulator: Emulator, reconnect: bool = False) -> None:
    """Through the CRM's consent page, as the org's admin would."""
    if reconnect:
        started = api.post(f"/api/v1/orgs/{org}/connection/reconnect")
    else:
        started = api.post(f"/api/v1/orgs/{org}/connection", json={"provider": emulator.provider})
    started.raise_for_status()
    with httpx.Client(timeout=30) as browser:
        page = browser.get(started.json()["authorize_url"])
        form = FormParser()
        form.feed(page.text)
        data = {**form.fields, **emulator.consent_choices, "decision": "allow"}
        for name, values in form.options.items():
            data.setdefault(name, values[0])
        answer = browser.post(urljoin(str(page.url), form.action or ""), data=data)
        location = urlsplit(answer.headers["location"])
        back = api.get(f"{location.path}?{location.query}")
        assert back.status_code == 200, back.text


def person(i: int, version: int) -> dict[str, Any]:
    return {
        "person_id": f"p{i:06d}",
        "first_name": "Soak",
        "last_name": f"Person {i}",
        "emails": [f"soak{i}@people.test"],
        "company": f"Company {i % 37}",
        "title": f"Title v{version}",
    }


def put_people(api: httpx.Client, people: list[dict[str, Any]], expect: str) -> None:
    """Through the batch endpoint; each person must come back counted as ``expect``."""
    for batch in chunks(people):
        answer = api.put("/api/v1/people", json=list(batch))
        answer.raise_for_status()
        counts = answer.json()
        if counts[expect] != len(batch):
            raise SystemExit(f"PUT /api/v1/people: {len(batch)} sent, {counts}")


def wait_until_settled(
    api: httpx.Client, orgs: list[str], timeout: float, since: float | None = None
) -> dict[str, float]:
    """Until every connection is connected with nothing pending; returns when each org first
    was (seconds after ``since``). Progress goes to stderr every 15 s."""
    since = time.monotonic() if since is None else since
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    settled: dict[str, float] = {}
    shown = time.monotonic()
    while time.monotonic() < deadline:
        status = {org: api.get(f"/api/v1/orgs/{org}/connection").json() for org in orgs}
        for org, s in status.items():
            if s["status"] == "connected" and s["counts"]["pending"] == 0:
                settled.setdefault(org, time.monotonic() - since)
            else:
                settled.pop(org, None)
        if len(settled) == len(orgs):
            return settled
        if time.monotonic() - shown > 15:
            shown = time.monotonic()
            left = {org: s["counts"]["pending"] for org, s in status.items()}
            print(f"  {shown - since:6.0f} s  pending {json.dumps(left)}", file=sys.stderr)
        time.sleep(1)
    raise SystemExit(f"not settled after {timeout:.0f} s: {json.dumps(status)[:2000]}")


def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    schema = f"soak_{uuid.uuid4().hex[:10]}"
    db_url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    logs = Path(tempfile.mkdtemp(prefix="crmsync-soak-"))
    emulators: dict[str, Emulator] = {}
    procs: Processes | None = None
    try:
        for name in sorted(EMULATORS):
            emulators[name] = Emulator(name, logs)
        env = {
            **os.environ,
            "CRMSYNC_DATABASE_URL": db_url,
            "CRMSYNC_REDIS_URL": args.redis_url,
            "CRMSYNC_QUEUE_NAME": f"crmsync-{schema}",  # other runs may share this Redis
            "CRMSYNC_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "CRMSYNC_HOST_API_KEYS": json.dumps([KEY]),
            "CRMSYNC_DATA_DIR": str(logs),
            "CRMSYNC_BATCH_LEASE_SECONDS": "3",
            "CRMSYNC_SWEEP_INTERVAL_SECONDS": "1",
            "CRMSYNC_HTTP_TIMEOUT_SECONDS": str(args.crm_timeout),
            "CRMSYNC_HTTP_RETRY_BASE_SECONDS": "0.05",
            "CRMSYNC_RETRY_BASE_SECONDS": "0.2",
            "CRMSYNC_RETRY_MAX_SECONDS": "2",
            "CRMSYNC_MAX_ATTEMPTS": "40",
            "CRMSYNC_PROVIDER_OVERRIDES": json.dumps(
                {
                    name: {**e.settings, "rate_limit_requests": 10**6}
                    for name, e in emulators.items()
                }
            ),
        }
        subprocess.run(
            [sys.executable, "-m", "crmsync.cli.main", "db", "upgrade"],
            env=env,
            check=True,
            capture_output=True,
        )
        api_port = free_port()
        env["CRMSYNC_PUBLIC_URL"] = f"http://127.0.0.1:{api_port}"
        procs = Processes(env, logs, args.workers, api_port)
        db = create_engine(db_url)
        try:
            return drive(args, rng, emulators, procs, api_port, logs, db)
        finally:
            db.dispose()
    finally:
        if procs is not None:
            procs.stop()
        for emulator in emulators.values():
            emulator.stop()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def drive(
    args: argparse.Namespace,
    rng: random.Random,
    emulators: dict[str, Emulator],
    procs: Processes,
    api_port: int,
    logs: Path,
    db: Any,
) -> int:
    headers = {"Authorization": f"Bearer {KEY}"}
    api = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", headers=headers, timeout=120)
    wait_for(lambda: api.get("/healthz"), "the API process")
    orgs = {f"org-{name}": e for name, e in emulators.items()}
    for org, emulator in orgs.items():
        api.post("/api/v1/orgs", json={"id": org, "name": org}).raise_for_status()
        user = {"id": f"u-{org}", "email": f"owner@{emulator.provider}.test"}
        api.post(f"/api/v1/orgs/{org}/users", json=user).raise_for_status()
        connect(api, org, emulator)
    version = dict.fromkeys(range(args.people), 1)
    seeding = time.monotonic()
    put_people(api, [person(i, 1) for i in range(args.people)], expect="created")
    seeded = time.monotonic() - seeding
    for emulator in emulators.values():
        emulator.faults(args.fault_rate, args.seed, args.crm_timeout + 1)
    started = time.monotonic()
    stop = threading.Event()

    def killer() -> None:
        while not stop.wait(args.kill_every) and procs.kills < args.kills:
            procs.kill_one(rng)

    chaos = threading.Thread(target=killer, daemon=True)
    chaos.start()
    wave = max(1, -(-args.people // args.waves))
    revoke_org = next(iter(orgs))
    refreshes = 0
    for number, start in enumerate(range(0, args.people, wave)):
        ids = range(start, min(args.people, start + wave))
        for org in orgs:
            body = [{"person_id": f"p{i:06d}", "unlocked_by": f"u-{org}"} for i in ids]
            for batch in chunks(body):
                api.post(f"/api/v1/orgs/{org}/unlocks", json=list(batch)).raise_for_status()
        # refreshes of people already unlocked, most of them already in the CRMs
        changed = sorted(rng.sample(range(start + len(ids)), k=len(ids) // 2))
        for i in changed:
            version[i] += 1
        put_people(api, [person(i, version[i]) for i in changed], expect="changed")
        refreshes += len(changed)
        if number == 3:  # one connection loses its authorisation mid-run
            orgs[revoke_org].revoke_tokens()
        time.sleep(args.pause)
    if args.waves <= 3:
        orgs[revoke_org].revoke_tokens()
    wait_for_status(api, revoke_org, "needs_reconnect", timeout=300)
    crm = orgs[revoke_org]
    crm.faults(0, args.seed)
    connect(api, revoke_org, crm, reconnect=True)
    crm.faults(args.fault_rate, args.seed, args.crm_timeout + 1)
    sent = time.monotonic() - started
    while procs.kills < args.kills:
        time.sleep(0.2)
    stop.set()
    injected: dict[str, dict[str, int]] = {}
    if args.fault_seconds is not None:  # faults for a while, then the rest drains without
        time.sleep(max(0.0, started + args.fault_seconds - time.monotonic()))
        injected = faults_off(emulators, args.seed)
    faulted = time.monotonic() - started
    settled = wait_until_settled(api, list(orgs), args.timeout, since=started)
    elapsed = time.monotonic() - started
    if not injected:  # faults until everything settled
        injected = faults_off(emulators, args.seed)
        faulted = elapsed
        wait_until_settled(api, list(orgs), timeout=60)
    timing = {
        "seed": seeded,
        "sent": sent,
        "elapsed": elapsed,
        "refreshes": refreshes,
        "faulted": faulted,
    }
    timing.update({f"settled {org}": seconds for org, seconds in settled.items()})
    return verify(orgs, version, injected, procs.kills, timing, logs, db)


def faults_off(emulators: dict[str, Emulator], seed: int) -> dict[str, dict[str, int]]:
    """Stops injecting faults; returns what each emulator injected."""
    injected = {name: e.injected() for name, e in emulators.items()}
    for emulator in emulators.values():
        emulator.faults(0, seed)
    return injected


def wait_for_status(api: httpx.Client, org: str, wanted: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.get(f"/api/v1/orgs/{org}/connection").json()["status"] == wanted:
            return
        time.sleep(0.5)
    raise SystemExit(f"{org} never became {wanted}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--kill-every", type=float, default=2.0)
    parser.add_argument("--fault-rate", type=float, default=0.05, help="per fault kind")
    parser.add_argument(
        "--crm-timeout",
        type=float,
        default=1.5,
        help="seconds crmsync waits for a CRM; an injected timeout hangs 1 s longer",
    )
    parser.add_argument(
        "--fault-seconds",
        type=float,
        help="inject faults for this long after the first unlock (at least until every "
        "unlock is sent and every kill done), then drain without; default: until settled",
    )
    parser.add_argument("--waves", type=int, default=10, help="unlock waves")
    parser.add_argument("--pause", type=float, default=0.5, help="between unlock waves")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--serve-emulator", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_emulator:
        serve_emulator(args.serve_emulator, args.port)
        return
    raise SystemExit(run(args))


if __name__ == "__main__":
    main()
