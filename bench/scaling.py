"""Distributed scaling: N connections synced by 1, 2, 4 ... worker processes.

Set up once: a fresh PostgreSQL schema and Redis database, a HubSpot emulator in its own
process with one portal per organisation (each with HubSpot's own limits: 110 requests / 10 s,
100 records per batch), N orgs connected through the real OAuth flow. Then one round per
worker count, each with K fresh people per org and the connections' setup and owner caches
cleared (so every round does the same work, what a connection's first sync does): the worker
processes are started and idle; every org's users unlock their K people (the live lane,
through the service layer the host API calls, in one transaction), every connection is
kicked, and the clock runs until every record exists in its portal (the emulator's own
updatedAt of the last write) and the outbox is empty. Prints records/s per
worker count, the speedup over the first count, and where the CPU went: on a small machine
the ceiling is the cores, not crmsync's design; `os.cpu_count()` is printed for that reason.
Exits non-zero if any record is missing or duplicated, or any operation failed.

    .venv/bin/python bench/scaling.py --connections 1000 --people-per-connection 100 \
        --workers 1,2,4
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._cluster import (
    PG_URL,
    PortalCluster,
    Stack,
    Workers,
    connect_all,
    cpu_line,
    insert_people,
    logs_dir,
    org_id,
    person_fields,
    seed_orgs,
    wait_until,
)
from sqlalchemy import update

from crmsync.db.tables import Connection
from crmsync.domain.commands import UnlockPerson
from crmsync.engine.queue import create_queue
from crmsync.services.orgs import record_unlocks


@dataclass
class Result:
    workers: int
    records: int
    elapsed: float
    drained: float
    cpu: dict[str, float]
    api_calls: int
    write_calls: int
    problems: list[str]

    @property
    def rate(self) -> float:
        return self.records / self.elapsed


def person_id(round_: int, org: int, i: int, per_org: int) -> str:
    return f"r{round_}p{org * per_org + i:08d}"


def setup(args: argparse.Namespace, cluster: PortalCluster, logs: Path) -> Stack:
    """Once for every worker count: the orgs connected through OAuth (the slow part: 206 s
    for 1,000 connections) and every round's people stored, none unlocked yet."""
    n, k = args.connections, args.people_per_connection
    stack = Stack(args, cluster, logs)
    seed_orgs(stack.rt, n)
    connect_all(stack.rt, cluster)
    rows = [
        # distinct emails too: HubSpot allows one contact per email
        {"person_id": person_id(r, o, i, k), **person_fields((r * n + o) * k + i, "Engineer")}
        for r in range(len(args.counts))
        for o in range(n)
        for i in range(k)
    ]
    insert_people(stack.rt, rows)
    return stack


def run_round(
    args: argparse.Namespace, cluster: PortalCluster, stack: Stack, round_: int, logs: Path
) -> Result:
    """``workers`` processes sync this round's fresh people: the same work every round."""
    n, k, workers = args.connections, args.people_per_connection, args.counts[round_]
    rt = stack.rt
    with rt.db.session() as session:  # every round pays what a connection's first sync pays
        session.execute(update(Connection).values(setup_checked_at=None, owners_fetched_at=None))
    # rt.kick now enqueues "look at connection X" on Redis. The last round's sweeps left such
    # tasks behind: they would run (and refill the caches) before this round's clock starts
    create_queue(rt).huey.flush()
    procs = Workers(stack.env, logs, workers)
    try:
        stamp = time.monotonic()
        touched: list[str] = []
        with rt.db.session() as session:
            for o in range(n):
                unlocks = [
                    UnlockPerson(person_id=person_id(round_, o, i, k), unlocked_by=f"u-{org_id(o)}")
                    for i in range(k)
                ]
                touched += record_unlocks(session, org_id(o), unlocks)[1]
        recorded = time.monotonic() - stamp
        print(f"  {workers} worker(s): {n * k} unlocks recorded in {recorded:.1f} s", flush=True)
        cpu = stack.cpu_meter(procs, cluster)
        before = cluster.ask("summary")
        started = time.time()
        for connection_id in touched:
            rt.kick(connection_id)
        total = n * k * (round_ + 1)
        wait_until(lambda: cluster.ask("count")["contacts"] >= total, args.timeout, "records")
        wait_until(lambda: stack.outbox_left() == 0, 120, "empty outbox")
        drained = time.time() - started
        usage = cpu.report()
        summary = cluster.ask("summary")
    finally:
        procs.stop()
    return Result(
        workers,
        n * k,
        summary["last_write"] - started,
        drained,
        usage,
        summary["api_calls"] - before["api_calls"],
        summary["write_calls"] - before["write_calls"],
        verify(cluster, stack, n, k, round_),
    )


def verify(cluster: PortalCluster, stack: Stack, n: int, k: int, round_: int) -> list[str]:
    """Every person of the rounds so far exactly once in their org's portal, owned by the
    org's user; no strays."""
    records = cluster.ask("records")
    problems: list[str] = []
    for o, rows in enumerate(records["portals"]):
        counts = Counter(row[0] for row in rows)
        wanted = {person_id(r, o, i, k) for r in range(round_ + 1) for i in range(k)}
        missing = wanted - set(counts)
        duplicated = [pid for pid, c in counts.items() if c > 1]
        strays = set(counts) - wanted
        wrong_owner = [row[0] for row in rows if row[2] != records["owners"][o]]
        for label, found in (
            ("missing", missing),
            ("duplicated", duplicated),
            ("not unlocked here", strays),
            ("wrong owner", wrong_owner),
        ):
            if found:
                problems.append(f"{org_id(o)}: {len(found)} {label}, e.g. {sorted(found)[:3]}")
    ops = stack.operations()
    if stack.failed():
        problems.append(f"operations not settled: {ops}")
    return problems


def report(args: argparse.Namespace, results: list[Result]) -> None:
    base = results[0]
    print()
    print(
        f"cpu_count {os.cpu_count()}; {args.connections} connections x "
        f"{args.people_per_connection} people; {args.threads} threads per worker; "
        f"HubSpot limits on (110 req / 10 s per portal)"
    )
    header = f"{'workers':>7} {'records':>8} {'seconds':>8} {'drained':>8} {'records/s':>10}"
    print(f"{header} {'speedup':>8} {'calls/record':>12}  CPU (% of one core)")
    for r in results:
        print(
            f"{r.workers:>7} {r.records:>8} {r.elapsed:>8.1f} {r.drained:>8.1f} {r.rate:>10.1f} "
            f"{r.rate / base.rate:>7.2f}x {r.api_calls / r.records:>12.3f}  {cpu_line(r.cpu)}"
        )
    cores = 100 * (os.cpu_count() or 1)
    print(
        f"(machine busy is out of {cores}%; postgres counts this database's backends; the rest "
        "of machine busy is Redis and anything else running; seconds run from the kick to the "
        "last record's write in the CRM; drained = outbox empty, as polled)"
    )
    for r in results:
        for problem in r.problems:
            print(f"  PROBLEM ({r.workers} workers): {problem}")
    ok = all(not r.problems for r in results)
    print("RESULT", "ok" if ok else "MISSING, DUPLICATE OR FAILED RECORDS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--people-per-connection", type=int, default=100)
    parser.add_argument("--workers", default="1,2,4", help="comma-separated worker counts")
    parser.add_argument("--threads", type=int, default=2, help="threads per worker process")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--database-url", default=PG_URL)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    args = parser.parse_args()
    args.counts = [int(w) for w in args.workers.split(",")]
    print(f"cpu_count {os.cpu_count()}", flush=True)
    logs = logs_dir("scaling")
    stamp = time.monotonic()
    cluster = PortalCluster(args.connections, logs)
    stack: Stack | None = None
    try:
        stack = setup(args, cluster, logs)
        print(
            f"setup {time.monotonic() - stamp:.1f} s: {args.connections} connections via "
            f"OAuth, {len(args.counts)} rounds of people; logs {logs}",
            flush=True,
        )
        results = [run_round(args, cluster, stack, r, logs) for r in range(len(args.counts))]
    finally:
        cluster.stop()
        if stack is not None:
            stack.drop()
    report(args, results)
    raise SystemExit(0 if all(not r.problems for r in results) else 1)


if __name__ == "__main__":
    main()
