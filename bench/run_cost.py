"""What one run costs before it moves a record: the fixed price of a run, in-process.

With many connections each holding a little work (bench/scaling.py at 1,000 connections), a
worker's throughput is set by what a run spends on itself: taking the lease, opening the
connector (tokens, HTTP client), checking setup and owners, claiming, recording, dropping the
lease. This bench unlocks one person at a time on one connection against an unlimited
emulator and runs the runner once per person, so every run pays that price for a single
record. It prints wall and CPU milliseconds per run and, with ``--profile``, the functions
where the time goes (cProfile, by cumulative time).

    .venv/bin/python bench/run_cost.py --runs 300 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message=".*httpx2.*")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._emulator import emulate
from bench._inprocess import ORG, OWNER_EMAIL, USER, connect, runtime, seed
from bench.backfill import cpu_seconds

from crmsync.domain.commands import PersonRecord, UnlockPerson
from crmsync.engine import outbox
from crmsync.engine.runner import SyncRunner
from crmsync.engine.runtime import Runtime
from crmsync.services.orgs import record_unlocks
from crmsync.services.people import upsert_person


def unlock(rt: Runtime, n: int) -> None:
    data = PersonRecord(first_name="Run", last_name=f"Cost {n}", emails=(f"run{n}@bench.example",))
    with rt.db.session() as session:
        upsert_person(session, f"run{n:07d}", data)
    with rt.db.session() as session:
        record_unlocks(session, ORG, [UnlockPerson(person_id=f"run{n:07d}", unlocked_by=USER)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", default="hubspot")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    parser.add_argument("--profile", action="store_true", help="print the top functions")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()

    with emulate(args.provider, users=[f"{OWNER_EMAIL}:Olive:Owner"], rate_limited=False) as emu:
        overrides = {**emu.settings, "rate_limit_requests": 10**9}
        rt = runtime(args.provider, overrides, "crmsync-runcost-", args.database_url)
        seed(rt, 0)
        connection_id = connect(rt, args.provider)
        runner = SyncRunner(rt)
        unlock(rt, 0)
        runner.run(connection_id)  # the first run creates fields and reads owners: not timed
        profiler = cProfile.Profile() if args.profile else None
        wall = cpu = 0.0
        for n in range(1, args.runs + 1):
            unlock(rt, n)
            started, cpu_before = time.perf_counter(), cpu_seconds()
            if profiler is not None:
                profiler.enable()
            result = runner.run(connection_id)
            if profiler is not None:
                profiler.disable()
            wall += time.perf_counter() - started
            cpu += cpu_seconds() - cpu_before
            if result.outcomes.get("inserted", 0) != 1:
                raise SystemExit(f"run {n} did not sync its one person: {result}")
        with rt.db.session() as session:
            left = outbox.queue_depth(session, connection_id)
        print(f"provider            {args.provider}")
        print(f"database            {rt.db.engine.dialect.name}")
        print(f"runs                {args.runs} (one new person each)")
        print(f"wall per run        {1000 * wall / args.runs:.1f} ms")
        cpu_ms = 1000 * cpu / args.runs
        print(f"CPU per run         {cpu_ms:.1f} ms (this process; the emulator runs apart)")
        print(f"runs per CPU-second {args.runs / cpu:.0f}")
        print(f"left in the queue   {left}")
        if profiler is not None:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
            print(out.getvalue())


if __name__ == "__main__":
    main()
