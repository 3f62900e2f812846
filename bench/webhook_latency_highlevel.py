"""HighLevel webhook-to-feed latency, in process: a hand edit in HighLevel, its signed
``ContactUpdate`` delivered to crmsync's route, the connection's run, the change in the feed.

Each event is timed from the delivery to the run's end (its change committed); ``--gap``
seconds pass between events (0: back to back, where HighLevel's 10 requests/s pacing of the
run's four calls sets the pace).

    .venv/bin/python bench/webhook_latency_highlevel.py --events 50 --gap 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message=".*httpx2.*")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from crmsync.db.tables import Change
from crmsync.providers.highlevel.emulator.harness import HighLevelHarness
from tests.support.world import world

TARGET = "http://crmsync.test/webhooks/highlevel"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--gap", type=float, default=1.0)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="crmsync-hl-latency-"))
    with world(f"sqlite:///{data}/crmsync.db", data, "highlevel") as w:
        w.org("org1", {"u-admin": "admin@acme.test"})
        w.connect("org1")
        w.api.patch("/api/v1/orgs/org1/connection", json={"preserve_manual_edits": True})
        w.person("p1", title="Admiral")
        w.unlock("org1", "p1", "u-admin")
        w.drain()
        harness = w.harness
        assert isinstance(harness, HighLevelHarness)
        outbox = harness.emulator.webhooks
        outbox.configure(TARGET, frozenset({"ContactUpdate"}), False)
        overrides = w.rt.settings.provider_overrides["highlevel"]
        overrides["webhook_public_key"] = outbox.signer.public_key_pem
        (record,) = w.records_by_person()["p1"]
        connection_id = w.connection().id
        latencies: list[float] = []
        for n in range(args.events):
            time.sleep(args.gap)
            harness.manual_edit(record.crm_id, "title", f"Title {n}")
            started = time.perf_counter()
            assert outbox.deliver(w.api) == 1
            w.runner.run(connection_id, budget_seconds=60)
            latencies.append(time.perf_counter() - started)
            with w.rt.db.session() as session:
                assert session.scalar(select(func.count()).select_from(Change)) == n + 1
        latencies.sort()
        p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
        print(
            f"{len(latencies)} events, {args.gap:g} s apart: p50 "
            f"{statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
            f"max {latencies[-1] * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
