"""Fault soak: the whole system under every fault, with workers killed, must lose nothing.

An API process and several worker processes run on PostgreSQL + Redis against served
emulators of every CRM. While people are unlocked and refreshed, each emulator injects every
fault kind (429, 500, 503, timeouts before and after the write, connection resets), workers
are killed with SIGKILL and restarted, and one connection's tokens are revoked and then
reconnected. At the end each CRM's own data is checked: every unlocked person exactly once,
with the latest values and the right owner; every operation settled; nothing pending.

    .venv/bin/python bench/soak.py --people 1000 --workers 2 --kills 3
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
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

warnings.filterwarnings("ignore", message=".*httpx2.*")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from crmsync.cli.serving import ServerThread, free_port
from crmsync.connectors.registry import providers
from crmsync.emulation.harness import EmulatorHarness
from tests.support.consent import FormParser

PG_URL = os.environ.get("CRMSYNC_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
FAULT_KINDS = ("429", "500", "503", "timeout_before", "timeout_after", "reset")
KEY = "soak-key"


class Emulator:
    def __init__(self, name: str) -> None:
        self.name = name
        self.harness: EmulatorHarness = providers()[name].emulator(served=True, rate_limited=False)
        self.owner_id = self.harness.add_user(f"owner@{name}.test", "Olive", "Owner")
        self.server = ServerThread(self.harness.app).start()

    def faults(self, rate: float, seed: int) -> None:
        rates = {kind: rate for kind in FAULT_KINDS} if rate else {}
        body = {"rates": rates, "seed": seed, "timeout_sleep_seconds": 2.5}
        httpx.put(f"{self.server.url}/_emulator/faults", json=body).raise_for_status()

    def injected(self) -> dict[str, int]:
        return dict(httpx.get(f"{self.server.url}/_emulator/faults").json()["injected"])


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
        started = api.post(f"/api/v1/orgs/{org}/connection", json={"provider": emulator.name})
    started.raise_for_status()
    with httpx.Client(timeout=30) as browser:
        page = browser.get(started.json()["authorize_url"])
        form = FormParser()
        form.feed(page.text)
        data = {**form.fields, **emulator.harness.consent_choices, "decision": "allow"}
        for name, values in form.options.items():
            data.setdefault(name, values[0])
        answer = browser.post(urljoin(str(page.url), form.action or ""), data=data)
        location = urlsplit(answer.headers["location"])
        back = api.get(f"{location.path}?{location.query}")
        assert back.status_code == 200, back.text


def person(i: int, version: int) -> dict[str, Any]:
    return {
        "first_name": "Soak",
        "last_name": f"Person {i}",
        "emails": [f"soak{i}@people.test"],
        "company": f"Company {i % 37}",
        "title": f"Title v{version}",
    }


def wait_until_settled(api: httpx.Client, orgs: list[str], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = {org: api.get(f"/api/v1/orgs/{org}/connection").json() for org in orgs}
        if all(s["status"] == "connected" and s["counts"]["pending"] == 0 for s in status.values()):
            return status
        time.sleep(1)
    raise SystemExit(f"not settled after {timeout:.0f} s: {json.dumps(status)[:2000]}")


def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    schema = f"soak_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    emulators = {name: Emulator(name) for name in sorted(providers())}
    logs = Path(tempfile.mkdtemp(prefix="crmsync-soak-"))
    env = {
        **os.environ,
        "CRMSYNC_DATABASE_URL": f"{PG_URL}?options=-csearch_path%3D{schema}",
        "CRMSYNC_REDIS_URL": args.redis_url,
        "CRMSYNC_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "CRMSYNC_HOST_API_KEYS": json.dumps([KEY]),
        "CRMSYNC_DATA_DIR": str(logs),
        "CRMSYNC_BATCH_LEASE_SECONDS": "3",
        "CRMSYNC_SWEEP_INTERVAL_SECONDS": "1",
        "CRMSYNC_HTTP_TIMEOUT_SECONDS": "1.5",
        "CRMSYNC_HTTP_RETRY_BASE_SECONDS": "0.05",
        "CRMSYNC_RETRY_BASE_SECONDS": "0.2",
        "CRMSYNC_RETRY_MAX_SECONDS": "2",
        "CRMSYNC_MAX_ATTEMPTS": "40",
        "CRMSYNC_PROVIDER_OVERRIDES": json.dumps(
            {
                name: {**e.harness.settings_for(e.server.url), "rate_limit_requests": 10**6}
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
    procs: Processes | None = None
    try:
        procs = Processes(env, logs, args.workers, api_port)
        return drive(args, rng, emulators, procs, api_port, logs)
    finally:
        if procs is not None:
            procs.stop()
        for emulator in emulators.values():
            emulator.server.stop()
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
) -> int:
    headers = {"Authorization": f"Bearer {KEY}"}
    api = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", headers=headers, timeout=60)
    deadline = time.monotonic() + 90
    while True:
        try:
            api.get("/healthz")
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise SystemExit("the API process did not start") from None
            time.sleep(0.2)
    orgs = {f"org-{name}": e for name, e in emulators.items()}
    for org, emulator in orgs.items():
        api.post("/api/v1/orgs", json={"id": org, "name": org}).raise_for_status()
        user = {"id": f"u-{org}", "email": f"owner@{emulator.name}.test"}
        api.post(f"/api/v1/orgs/{org}/users", json=user).raise_for_status()
        connect(api, org, emulator)
    version = dict.fromkeys(range(args.people), 1)
    for i in range(args.people):
        api.put(f"/api/v1/people/p{i:06d}", json=person(i, 1)).raise_for_status()
    for emulator in emulators.values():
        emulator.faults(args.fault_rate, args.seed)
    started = time.monotonic()
    stop = threading.Event()

    def killer() -> None:
        while not stop.wait(args.kill_every) and procs.kills < args.kills:
            procs.kill_one(rng)

    chaos = threading.Thread(target=killer, daemon=True)
    chaos.start()
    chunk = max(1, args.people // 10)
    revoke_org = next(iter(orgs))
    for start in range(0, args.people, chunk):
        ids = range(start, min(args.people, start + chunk))
        for org in orgs:
            body = [{"person_id": f"p{i:06d}", "unlocked_by": f"u-{org}"} for i in ids]
            api.post(f"/api/v1/orgs/{org}/unlocks", json=body).raise_for_status()
        for i in rng.sample(range(start + len(ids)), k=min(len(ids), start + len(ids)) // 2):
            version[i] += 1
            api.put(f"/api/v1/people/p{i:06d}", json=person(i, version[i])).raise_for_status()
        if start == chunk * 3:  # one connection loses its authorisation mid-run
            crm = orgs[revoke_org]
            httpx.post(f"{crm.server.url}/_emulator/tokens/revoke").raise_for_status()
            httpx.post(f"{crm.server.url}/_emulator/tokens/expire").raise_for_status()
        time.sleep(args.pause)
    wait_for_status(api, revoke_org, "needs_reconnect", timeout=120)
    crm = orgs[revoke_org]
    crm.faults(0, args.seed)
    connect(api, revoke_org, crm, reconnect=True)
    crm.faults(args.fault_rate, args.seed)
    while procs.kills < args.kills:
        time.sleep(0.2)
    stop.set()
    injected = {name: e.injected() for name, e in emulators.items()}
    for emulator in emulators.values():
        emulator.faults(0, args.seed)
    wait_until_settled(api, list(orgs), timeout=args.timeout)
    elapsed = time.monotonic() - started
    return verify(api, orgs, version, injected, procs.kills, elapsed, logs)


def wait_for_status(api: httpx.Client, org: str, wanted: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.get(f"/api/v1/orgs/{org}/connection").json()["status"] == wanted:
            return
        time.sleep(0.5)
    raise SystemExit(f"{org} never became {wanted}")


def verify(
    api: httpx.Client,
    orgs: dict[str, Emulator],
    version: dict[int, int],
    injected: dict[str, dict[str, int]],
    kills: int,
    elapsed: float,
    logs: Path,
) -> int:
    missing = duplicates = wrong = unsettled = 0
    examples: list[str] = []
    statuses: Counter[str] = Counter()
    for org, emulator in orgs.items():
        found: dict[str, list[Any]] = {}
        for record in emulator.harness.records():
            if record.person_id:
                found.setdefault(record.person_id, []).append(record)
        for i, v in version.items():
            records = found.get(f"p{i:06d}", [])
            missing += not records
            duplicates += max(0, len(records) - 1)
            if records and (
                records[0].values.get("title") != f"Title v{v}"
                or records[0].owner_id != emulator.owner_id
            ):
                wrong += 1
                examples.append(
                    f"{emulator.name} p{i:06d}: title {records[0].values.get('title')!r} "
                    f"(want 'Title v{v}'), owner {records[0].owner_id!r} "
                    f"(want {emulator.owner_id!r})"
                )
        ops = api.get(f"/api/v1/orgs/{org}/operations", params={"limit": 500})
        for status in ("pending", "retrying", "waiting_reconnect", "failed"):
            left = api.get(f"/api/v1/orgs/{org}/operations", params={"status": status}).json()
            unsettled += len(left)
            examples += [
                f"{emulator.name} op {op['id']} {op['person_id']} {status} after "
                f"{op['attempts']} attempts: {op['reason'][:140]}"
                for op in left[:3]
            ]
        statuses.update(op["status"] for op in ops.json())
    faults = Counter[str]()
    for counts in injected.values():
        faults.update(counts)
    crms = ", ".join(sorted(o.name for o in orgs.values()))
    rows = [
        ("people", f"{len(version)} in each of {len(orgs)} CRMs ({crms})"),
        ("elapsed", f"{elapsed:.1f} s"),
        ("faults injected", json.dumps(dict(sorted(faults.items())))),
        ("worker kills", str(kills)),
        ("reconnects", "1"),
        ("missing", str(missing)),
        ("duplicates", str(duplicates)),
        ("wrong values", str(wrong)),
        ("unsettled or failed ops", str(unsettled)),
        ("logs", str(logs)),
    ]
    for name, value in rows:
        print(f"{name:<26}{value}")
    for example in examples[:10]:
        print(f"  wrong: {example}")
    ok = not (missing or duplicates or wrong or unsettled) and sum(faults.values()) > 0
    print("RESULT", "ok" if ok else "LOSS, DUPLICATE OR WRONG VALUE")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--kill-every", type=float, default=2.0)
    parser.add_argument("--fault-rate", type=float, default=0.05, help="per fault kind")
    parser.add_argument("--pause", type=float, default=0.5, help="between unlock waves")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    raise SystemExit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
