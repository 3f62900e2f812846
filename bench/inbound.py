"""Two-way's read half against the CRM's read limits: a full sync, a delta, an idle read, and
(HubSpot) webhook-to-feed latency while a full sync runs.

crmsync runs in this process against a rate-limited emulator served by a process of its own
(``crmsync emulate``). N people are pushed first (not timed); then, with manual edits
preserved (so a CRM user's edit is the CRM's and reaches the feed):

- **full sync**: "Full sync" requested, the runner driven until the read is done. Printed:
  records/s, calls by endpoint, and the ratio to the bound, the time the CRM's limits alone
  need for the calls made (HubSpot: search 5/s, its other calls 110 per 10 s; Salesforce:
  crmsync's own pace of 10 calls/s) over the time taken; records per call of each kind;
- **delta**: ``--edits`` records edited by hand in the CRM, one "sync now": API calls per
  changed record;
- **idle**: one more "sync now" with nothing changed: the calls of an idle read, times the
  reads an hour at the default 15-minute interval;
- **webhooks** (``--webhooks``, HubSpot): while a second full sync runs, a record is edited by
  hand every ``--webhook-every`` seconds and the emulator delivers its signed webhook to
  crmsync's receiving route (served here on a loopback port); each edit's latency is the time
  from the edit to its change in the feed (p50, p99, max).

    .venv/bin/python bench/inbound.py --provider hubspot --people 20000 --webhooks
    .venv/bin/python bench/inbound.py --provider salesforce --people 20000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import warnings
from datetime import UTC
from pathlib import Path

warnings.filterwarnings("ignore", message=".*httpx2.*")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn
from bench._emulator import EmulatorProcess, emulate
from bench._inprocess import OWNER_EMAIL, connect, drive, runtime, seed
from sqlalchemy import func, select

from crmsync.cli.serving import free_port
from crmsync.db.tables import Change, Connection, Link, SyncState
from crmsync.engine import inbound
from crmsync.engine.runner import SyncRunner
from crmsync.engine.runtime import Runtime
from crmsync.providers.hubspot.changes import DEFAULT_OVERLAP_SECONDS
from crmsync.service import create_product_app

TITLE = {"hubspot": "jobtitle", "salesforce": "Title"}
"""The CRM field a person's title is kept in, written out (not taken from the mapping)."""
SEARCH = "POST /crm/v3/objects/contacts/search"


def edit(emu: EmulatorProcess, provider: str, crm_id: str, title: str) -> None:
    """A CRM user edits the record's title by hand."""
    if provider == "hubspot":
        body = {"properties": {TITLE[provider]: title}}
        emu.api("PATCH", f"/_emulator/contacts/{crm_id}", json=body)
    else:
        emu.api("PATCH", f"/_emulator/records/Lead/{crm_id}", json={TITLE[provider]: title})


def bound_seconds(provider: str, calls: dict[str, int]) -> float:
    """The least time the CRM's limits allow for these calls."""
    if provider == "hubspot":
        search = calls.get(SEARCH, 0)
        return max(search / 5.0, (sum(calls.values()) - search) / 11.0)
    return sum(calls.values()) / 10.0


def read(rt: Runtime, runner: SyncRunner, connection_id: str, full: bool) -> float:
    """Ask for a sync (``full`` or not) and drive the runner until the read is done."""
    with rt.db.session() as session:
        inbound.request_sync(session, connection_id, full=full)
    started = time.perf_counter()
    while True:
        runner.run(connection_id, budget_seconds=3600)
        with rt.db.session() as session:
            if connection_id not in inbound.connections_reading_due(session):
                return time.perf_counter() - started


def feed_size(rt: Runtime) -> int:
    with rt.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Change)) or 0)


def crm_ids(rt: Runtime) -> list[str]:
    with rt.db.session() as session:
        return [str(i) for i in session.scalars(select(Link.crm_id).order_by(Link.id)) if i]


def endpoint_calls(emu: EmulatorProcess) -> dict[str, int]:
    return {k: int(v) for k, v in emu.counters().get("by_endpoint", {}).items()}


def show(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n{title}")
    for name, value in rows:
        print(f"  {name:<28} {value}")


def serve(rt: Runtime) -> tuple[str, uvicorn.Server]:
    """crmsync's product app on its public URL's loopback port, in a thread (the webhook
    receiver: it checks HubSpot's signature over that URL)."""
    port = int(rt.settings.public_url.rsplit(":", 1)[1])
    config = uvicorn.Config(create_product_app(rt), port=port, log_level="warning")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return rt.settings.public_url, server


def webhook_latency(
    args: argparse.Namespace, emu: EmulatorProcess, rt: Runtime, runner: SyncRunner, conn: str
) -> None:
    base, server = serve(rt)
    properties = [("contact.propertyChange", TITLE["hubspot"])]
    subscriptions = [{"eventType": t, "propertyName": p} for t, p in properties]
    emu.api(
        "PUT",
        "/_emulator/webhooks",
        json={"target_url": f"{base}/webhooks/hubspot", "subscriptions": subscriptions},
    )
    ids = crm_ids(rt)
    done = threading.Event()
    elapsed: list[float] = []

    def full_sync() -> None:
        elapsed.append(read(rt, runner, conn, full=True))
        done.set()

    worker = threading.Thread(target=full_sync)
    worker.start()
    edits: list[tuple[str, float]] = []
    n = accepted = 0
    while not done.is_set():
        title = f"Hooked {n}"
        edit(emu, "hubspot", ids[(n * 7919) % len(ids)], title)
        edits.append((title, time.time()))
        accepted += emu.api("POST", "/_emulator/webhooks/deliver")["accepted"]
        n += 1
        done.wait(args.webhook_every)
    worker.join()
    read(rt, runner, conn, full=False)  # what came after the full sync ended
    with rt.db.session() as session:
        seen: dict[str, float] = {}
        for change in session.scalars(select(Change).order_by(Change.seq)):
            title = (change.fields or {}).get("title")
            if isinstance(title, str) and title.startswith("Hooked "):
                seen.setdefault(title, change.at.replace(tzinfo=UTC).timestamp())
    latencies = sorted(seen[t] - at for t, at in edits if t in seen)
    server.should_exit = True
    if not latencies:
        show("webhook to feed, during a full sync", [("edits", f"{len(edits)}, none seen")])
        return
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    show(
        "webhook to feed, during a full sync",
        [
            ("full sync took", f"{elapsed[0]:.1f} s"),
            ("edits (one webhook each)", f"{len(edits)}, {len(latencies)} in the feed"),
            ("webhook events accepted", f"{accepted}"),
            ("latency p50", f"{statistics.median(latencies):.2f} s"),
            ("latency p99", f"{p99:.2f} s"),
            ("latency max", f"{latencies[-1]:.2f} s"),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", choices=sorted(TITLE), default="hubspot")
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--edits", type=int, default=500)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    parser.add_argument("--webhooks", action="store_true", help="HubSpot: webhook latency")
    parser.add_argument("--webhook-every", type=float, default=0.5)
    args = parser.parse_args()

    with emulate(args.provider, users=[f"{OWNER_EMAIL}:Olive:Owner"]) as emu:
        public_url = f"http://127.0.0.1:{free_port()}"
        rt = runtime(args.provider, emu.settings, "crmsync-inbound-", args.database_url, public_url)
        seed(rt, args.people)
        conn = connect(rt, args.provider)
        with rt.db.session() as session:
            session.get_one(Connection, conn).preserve_manual_edits = True
        runner = SyncRunner(rt)
        started = time.perf_counter()
        drive(rt, runner, conn)  # the push, and the first read that follows it
        read(rt, runner, conn, full=False)
        print(
            f"{args.people:,} people pushed and read back once in "
            f"{time.perf_counter() - started:.1f} s ({args.provider}, not timed below)"
        )

        emu.reset_counters()
        took = read(rt, runner, conn, full=True)
        calls = endpoint_calls(emu)
        bound = bound_seconds(args.provider, calls)
        with rt.db.session() as session:
            report = session.scalars(select(SyncState.last_report)).first() or {}
        show(
            "full sync",
            [
                ("records read", f"{args.people:,} in {took:.1f} s"),
                ("records/s", f"{args.people / took:,.0f}"),
                ("calls", f"{sum(calls.values()):,}"),
                *(
                    (f"  {k}", f"{v:,} ({args.people / v:,.0f} records/call)")
                    for k, v in sorted(calls.items())
                ),
                ("bound for these calls", f"{bound:.1f} s"),
                ("ratio to bound", f"{bound / took:.3f}"),
                ("what it found", str(dict(report))),
            ],
        )

        if args.provider == "hubspot":  # the read's overlap window, past the push's writes
            time.sleep(DEFAULT_OVERLAP_SECONDS + 1)
        ids = crm_ids(rt)
        before = feed_size(rt)
        for n in range(args.edits):
            edit(emu, args.provider, ids[(n * 104729) % len(ids)], f"Edited {n}")
        emu.reset_counters()
        took = read(rt, runner, conn, full=False)
        calls = endpoint_calls(emu)
        told = feed_size(rt) - before
        show(
            "delta",
            [
                ("records edited by hand", f"{args.edits:,}, {told:,} in the feed"),
                ("calls", f"{sum(calls.values()):,} in {took:.2f} s"),
                ("calls per changed record", f"{sum(calls.values()) / max(1, told):.3f}"),
                *((f"  {k}", f"{v:,}") for k, v in sorted(calls.items())),
            ],
        )

        emu.reset_counters()
        read(rt, runner, conn, full=False)
        calls = endpoint_calls(emu)
        idle = sum(calls.values())
        show(
            "idle",
            [
                ("calls per idle read", f"{idle} {dict(calls)}"),
                ("calls per hour (15 min)", f"{idle * 4}"),
            ],
        )
        if args.webhooks and args.provider == "hubspot":
            webhook_latency(args, emu, rt, runner, conn)


if __name__ == "__main__":
    main()
