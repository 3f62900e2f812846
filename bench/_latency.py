"""Live unlocks beside a running backfill, and their latency to the CRM (bench/backfill.py).

A thread does what the host API does for a brand-new person every few seconds: ``PUT
/people/{id}`` (``services.people.upsert_person``) then ``POST /orgs/{org}/unlocks``
(``services.orgs.record_unlocks``, which queues the person in the live lane), each in its own
committed transaction, then kicks the queue. Latency runs from the unlock's commit to the
record's creation timestamp in the emulator (HubSpot ``createdAt``, Salesforce
``CreatedDate``, both to the millisecond and taken from the same host clock), read back once
through the CRM's real API after the run: nothing polls the emulator while it is measured, so
no request of the connection's rate budget goes to the measurement.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from crmsync.db.tables import Connection
from crmsync.domain.commands import PersonRecord, UnlockPerson
from crmsync.engine.connecting import open_connector
from crmsync.engine.runtime import Runtime
from crmsync.services.orgs import record_unlocks
from crmsync.services.people import upsert_person

LOOKUP_CHUNK = 100  # HubSpot batch read takes 100 ids; a SOQL IN list of 100 stays short


@dataclass(frozen=True)
class Sent:
    person_id: str
    called: float  # epoch seconds, before record_unlocks
    committed: float  # epoch seconds, after its transaction committed


class LiveUnlocks(threading.Thread):
    """An org user unlocks a new person every ``every`` seconds until stopped or ``duration``
    seconds have passed (0: until stopped)."""

    def __init__(
        self, rt: Runtime, org_id: str, user_id: str, every: float, duration: float
    ) -> None:
        super().__init__(name="live-unlocks", daemon=True)
        self.rt, self.org_id, self.user_id = rt, org_id, user_id
        self.every, self.duration = every, duration
        self.stopped = threading.Event()
        self.sent: list[Sent] = []
        self.error: BaseException | None = None
        self.t0 = time.time()

    def run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # reported by the bench, not lost in a thread
            self.error = exc

    def _loop(self) -> None:
        self.t0 = time.time()
        start = time.monotonic()
        due = start
        while not self.stopped.is_set():
            if self.duration and time.monotonic() - start >= self.duration:
                return
            self.sent.append(self.unlock(len(self.sent)))
            due = max(due + self.every, time.monotonic())
            self.stopped.wait(due - time.monotonic())

    def unlock(self, n: int) -> Sent:
        person_id = f"live{n:07d}"
        data = PersonRecord(
            first_name="Live",
            last_name=f"Person {n}",
            emails=(f"live{n}@bench.example",),
            company="Live Co",
            title="Unlocked during the backfill",
        )
        with self.rt.db.session() as session:  # PUT /people/{id}: new, nothing queued yet
            upsert_person(session, person_id, data)
        called = time.time()
        unlock = UnlockPerson(person_id=person_id, unlocked_by=self.user_id)
        with self.rt.db.session() as session:  # POST /orgs/{org}/unlocks
            touched = record_unlocks(session, self.org_id, [unlock])[1]
        committed = time.time()
        for connection_id in touched:  # as the route does after commit (a no-op here: the
            self.rt.kick(connection_id)  # bench drives the runner itself)
        return Sent(person_id, called, committed)


def created_at(rt: Runtime, connection_id: str, person_ids: list[str]) -> dict[str, float]:
    """Epoch seconds each person's record was created in the CRM (absent: not there)."""
    return asyncio.run(_created_at(rt, connection_id, person_ids))


async def _created_at(rt: Runtime, connection_id: str, person_ids: list[str]) -> dict[str, float]:
    with rt.db.session() as session:
        conn = session.get_one(Connection, connection_id)
    found: dict[str, float] = {}
    async with open_connector(rt, conn) as connector:
        fields = {f.app_field: f.crm_field for f in type(connector).default_fields(rt.app)}
        key = str(fields["person_id"])
        for start in range(0, len(person_ids), LOOKUP_CHUNK):
            chunk = person_ids[start : start + LOOKUP_CHUNK]
            if conn.provider == "hubspot":
                body = await connector.client.api.json(  # type: ignore[attr-defined]
                    "POST",
                    "/crm/v3/objects/contacts/batch/read",
                    json={
                        "idProperty": key,
                        "properties": [key],
                        "inputs": [{"id": p} for p in chunk],
                    },
                    accept={207: True},
                )
                rows = [(r["properties"][key], r["createdAt"]) for r in body.get("results", [])]
            elif conn.provider == "salesforce":
                listed = ", ".join(f"'{p}'" for p in chunk)
                records = await connector.client.query(  # type: ignore[attr-defined]
                    f"SELECT {key}, CreatedDate FROM Lead WHERE {key} IN ({listed})"
                )
                rows = [(r[key], r["CreatedDate"]) for r in records]
            else:
                raise SystemExit(f"--live-every: no creation-time lookup for {conn.provider}")
            for person_id, stamp in rows:
                found[str(person_id)] = epoch(str(stamp))
    return found


def epoch(stamp: str) -> float:
    """``2024-05-01T12:00:00.123Z`` (HubSpot) or ``...123+0000`` (Salesforce)."""
    if stamp.endswith("+0000"):
        stamp = stamp[:-5] + "+00:00"
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def slowest(live: LiveUnlocks, created: dict[str, float], n: int) -> list[tuple[Sent, str]]:
    """The ``n`` slowest unlocks (missing ones first) with their latency, to see when."""

    def latency(sent: Sent) -> float:
        at = created.get(sent.person_id)
        return math.inf if at is None else at - sent.committed

    ranked = sorted(live.sent, key=latency, reverse=True)[:n]
    return [(s, "missing" if latency(s) == math.inf else f"{latency(s):.2f} s") for s in ranked]


def live_rows(
    live: LiveUnlocks, created: dict[str, float], target: float
) -> tuple[list[tuple[str, str]], bool]:
    """Report rows for the live unlocks, and whether p99 met ``target`` with none missing."""
    latency = [created[s.person_id] - s.committed for s in live.sent if s.person_id in created]
    missing = [s.person_id for s in live.sent if s.person_id not in created]
    commit = [s.committed - s.called for s in live.sent]
    if not latency:
        return [("live unlocks", f"{len(live.sent)} sent, none found in the CRM")], False
    p99 = percentile(latency, 0.99)
    met = p99 <= target and not missing
    rows = [
        ("live unlocks", f"{len(live.sent)}, one every {live.every:g} s beside the backfill"),
        (
            "live latency",
            f"p50 {percentile(latency, 0.5):.2f} s, p99 {p99:.2f} s, max {max(latency):.2f} s "
            f"(unlock commit to record created in the CRM)",
        ),
        (
            "unlock call",
            f"p50 {percentile(commit, 0.5) * 1000:.0f} ms, max {max(commit) * 1000:.0f} ms "
            f"(record_unlocks until committed: waits on the database lock)",
        ),
        ("live missing", f"{len(missing)}" + (f", e.g. {missing[:3]}" if missing else "")),
        ("LIVE TARGET", f"p99 <= {target:g} s: {'PASS' if met else 'FAIL'}"),
    ]
    return rows, met
