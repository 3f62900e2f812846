"""Backfill N people into a served CRM emulator at the provider's real rate limit.

Prints records/s, the ratio to the bound (limit x batch size), API calls per record against
the minimum the API allows, and crmsync's peak RSS (the emulator runs in its own process),
overall and by phase: connecting (which queues the backfill) and syncing.

With ``--live-every S``, a thread unlocks a new person every S seconds through the host API's
service calls while the backfill runs (until it ends, or for ``--live-for`` seconds), and the
report adds p50/p99/max from each unlock's commit to its record's creation in the CRM, with
PASS/FAIL against ``--live-target`` (see bench/_latency.py). The runner is driven directly, in
one run: live unlocks are picked up by that run's next claim (the live lane goes first).

    .venv/bin/python bench/backfill.py --people 100000 --provider hubspot
    .venv/bin/python bench/backfill.py --people 1000000 --provider hubspot --live-every 1

Exit status 3 when the live latency target was missed or a live record is missing.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import httpx

warnings.filterwarnings("ignore", message=".*httpx2.*")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._emulator import COUNTERS, emulate
from bench._inprocess import ORG, OWNER_EMAIL, USER, connect, drive, runtime, seed
from bench._latency import LiveUnlocks, created_at, live_rows, slowest

from crmsync.connectors.http import CallStats
from crmsync.connectors.spec import ProviderSpec
from crmsync.engine import outbox
from crmsync.engine.runner import SyncRunner
from crmsync.providers.catalog import BUILTIN
from crmsync.tuning import settle_heap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--provider", default="hubspot")
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--unlimited",
        action="store_true",
        help="Rate limits off on both sides: measures crmsync's own overhead.",
    )
    parser.add_argument(
        "--live-every",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="Unlock a new person every SECONDS while the backfill runs (0: off).",
    )
    parser.add_argument(
        "--live-for",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="Stop the live unlocks after SECONDS (0: when the backfill ends).",
    )
    parser.add_argument(
        "--live-target", type=float, default=5.0, metavar="SECONDS", help="p99 live latency"
    )
    args = parser.parse_args()

    [spec] = [p.connector.spec for p in BUILTIN if p.name == args.provider]
    owner = f"{OWNER_EMAIL}:Olive:Owner"
    with emulate(args.provider, users=[owner], rate_limited=not args.unlimited) as emulator:
        unlimited = {"rate_limit_requests": 10**9} if args.unlimited else {}
        overrides = {**emulator.settings, **unlimited}
        rt = runtime(args.provider, overrides, "crmsync-bench-", args.database_url)
        stamp = time.monotonic()
        seed(rt, args.people)
        phases = {"seeding (bench)": peak_rss_mb(reset=True)}
        print(f"seeded {args.people} people in {time.monotonic() - stamp:.1f} s", flush=True)
        connection_id = connect(rt, args.provider)
        phases["connecting"] = peak_rss_mb(reset=True)
        emulator.reset_counters()
        runner = SyncRunner(rt)
        settle_heap()  # as `crmsync serve` and `crmsync worker` do once started
        live = None
        if args.live_every > 0:
            live = LiveUnlocks(rt, ORG, USER, args.live_every, args.live_for)
        progress = Progress(emulator.base, live)
        cpu_before = cpu_seconds()
        started = time.monotonic()
        if live is not None:
            live.start()
        progress.start()
        drive(rt, runner, connection_id)
        elapsed = time.monotonic() - started
        cpu = cpu_seconds() - cpu_before
        progress.stopped.set()
        if live is not None:  # the backfill is done: stop unlocking, sync the last ones
            live.stopped.set()
            live.join()
            drive(rt, runner, connection_id)
        phases["syncing"] = peak_rss_mb(reset=False)
        counters = emulator.counters()
        with rt.db.session() as session:
            depth = outbox.queue_depth(session, connection_id)
        report(
            args,
            spec,
            elapsed,
            cpu,
            counters,
            depth,
            phases,
            len(live.sent) if live else 0,
            rt.calls,
        )
        if live is not None:
            if live.error is not None:
                raise live.error
            # Read back after the counters: these lookups are not part of the sync's calls.
            created = created_at(rt, connection_id, [s.person_id for s in live.sent])
            rows, met = live_rows(live, created, args.live_target)
            for name, value in rows:
                print(f"{name:<20}{value}")
            for sent, took in slowest(live, created, 5):
                at = sent.committed - live.t0
                print(f"  slow: {sent.person_id} unlocked at +{at:.1f} s: {took}")
            if not met:
                raise SystemExit(3)


class Progress(threading.Thread):
    """A line every minute from the emulator's counters (a control route: not rate limited,
    not counted), so a long recorded run shows it is alive."""

    def __init__(self, base: str, live: LiveUnlocks | None) -> None:
        super().__init__(name="progress", daemon=True)
        self.base, self.live = base, live
        self.stopped = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self.stopped.wait(60):
            try:
                calls = httpx.get(f"{self.base}{COUNTERS}", timeout=5).json()["total"]
            except httpx.HTTPError:
                continue
            live = f", {len(self.live.sent)} live unlocks" if self.live else ""
            print(f"  +{time.monotonic() - started:.0f} s: {calls} API calls{live}", flush=True)


def peak_rss_mb(reset: bool) -> float:
    """This process's peak RSS since the last reset (Linux: VmHWM, reset via clear_refs), so
    each phase's peak is its own; elsewhere the lifetime peak."""
    try:
        with open("/proc/self/status") as status:
            hwm = next(line for line in status if line.startswith("VmHWM:"))
        if reset:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")
        return int(hwm.split()[1]) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time of this process (all its threads): the engine's cost, whatever else runs."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_speed() -> float:
    """Millions of iterations per CPU-second of a plain Python loop, timed in this process
    after the run: machines (and one machine over a day) differ by 2x, so records per
    CPU-second are only comparable beside this figure."""
    started = time.process_time()
    total = 0
    for i in range(5_000_000):
        total += i
    return 5 / (time.process_time() - started)


def report(
    args: argparse.Namespace,
    spec: ProviderSpec,
    elapsed: float,
    cpu: float,
    counters: dict[str, Any],
    depth: dict[str, int],
    phases: dict[str, float],
    live: int,
    responses: CallStats,
) -> None:
    calls = int(counters.get("total", 0))
    rate = args.people / elapsed
    limit = spec.rate_limit
    per_call = spec.records_per_call or spec.batch_size
    bound = limit.per_second * per_call
    minimum = (args.people + live) / per_call
    peak_mb = max(phases["connecting"], phases["syncing"])
    by_phase = ", ".join(f"{name} {mb:.0f}" for name, mb in phases.items())
    rows = [
        ("provider", args.provider + (" (rate limits off)" if args.unlimited else "")),
        ("people", str(args.people) + (f" (+ {live} live unlocks)" if live else "")),
        ("elapsed", f"{elapsed:.1f} s"),
        ("records/s", f"{rate:.1f}"),
        (
            "bound",
            f"{bound:.1f} records/s ({limit.requests} req / {limit.per_seconds:g} s "
            f"x {per_call} per call)",
        ),
        ("ratio to bound", f"{rate / bound:.3f}"),
        ("crmsync CPU", f"{cpu:.1f} s ({args.people / cpu:.0f} records per CPU-second)"),
        ("machine speed", f"{machine_speed():.1f} M Python loop iterations per CPU-second"),
        ("API calls", f"{calls} ({calls / args.people:.4f} per record)"),
        ("minimum calls", f"{minimum:.0f} ({1 / per_call:.4f} per record, live included)"),
        ("calls / minimum", f"{calls / minimum:.3f}"),
        ("peak RSS (crmsync)", f"{peak_mb:.0f} MB (by phase, MB: {by_phase})"),
        ("left in queue", str(sum(depth.values()))),
        (
            "responses seen",
            json.dumps({f"{p} {s}": n for (p, s), n in responses.snapshot().items()}),
        ),
        ("by endpoint", json.dumps(counters.get("by_endpoint", {}), sort_keys=True)),
    ]
    for name, value in rows:
        print(f"{name:<20}{value}")


if __name__ == "__main__":
    main()
