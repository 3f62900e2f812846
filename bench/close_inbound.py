"""Close's inbound figures, in-process: the connector's change feed against the emulator,
paced by crmsync's budget at Close's 20 requests per second per key as in production. The
emulator's clock is the bench's (its own limiter off), so the minutes between an edit and the
next scheduled read pass at once.

* full sync: every contact listed (``GET /contact/``, 100 a call) from no cursor;
* event log: ``--records`` contacts each edited once by a Close user, read from the cursor
  (``GET /event/``, 50 events a call, newest first) — events per second against Close's bound
  (50 per call x 20 calls per second = 1,000 events/s), calls per changed record;
* idle: the next scheduled read (15 minutes on) re-scans the five minutes before the previous
  read once; the one after holds nothing: what that costs per hour at the default interval.

    .venv/bin/python bench/close_inbound.py --records 2000
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message=".*httpx2.*")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from crmsync.connectors.base import AppNames, ConnectorContext
from crmsync.emulation import ManualClock
from crmsync.providers.close.connector import CloseConnector
from crmsync.providers.close.emulator import CloseEmulatorConfig, create_app
from crmsync.providers.close.spec import SPEC

FIELDS = ["contact.first_name", "contact.last_name", "contact.title", "custom.Acme Person ID"]
PER_SECOND = SPEC.rate_limit.requests
INTERVAL_MINUTES = 15


async def main(records: int) -> None:
    clock = ManualClock(time.time())
    config = CloseEmulatorConfig(rate_limit_enabled=False, clock=clock, consolidate_seconds=0.0)
    app = create_app(config)
    emulator = app.state.emulator
    store, org = emulator.store, emulator.organization_id
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=SPEC.api_base,
        auth=CloseConnector.api_key_auth(config.api_key),
    )
    connector = CloseConnector(ConnectorContext(SPEC, http, AppNames("Acme", "acme"), org, {}))
    await connector.ensure_setup()
    ids = []
    for n in range(records):
        lead = {"name": f"P{n}", "contacts": [{"name": f"P {n}"}]}
        ids.append(store.create_lead(org, lead, store.admin.id)["contacts"][0]["id"])
        clock.advance(0.001)

    def calls() -> int:
        return int(emulator.counters.total)

    start, before, cursor, more = time.perf_counter(), calls(), None, True
    listed = 0
    while more:
        page = await connector.read_changes(cursor, FIELDS)
        listed, cursor, more = listed + len(page.changes), page.cursor, page.more
    took, used = time.perf_counter() - start, calls() - before
    bound = 100 * PER_SECOND
    print(f"full sync: {listed} contacts, {used} calls, {took:.2f} s, {listed / took:.0f}/s")
    print(f"  bound {bound}/s (100 a call x {PER_SECOND}/s): {listed / took / bound:.2f} of it")

    clock.advance(10 * 60)
    cursor = (await connector.read_changes(cursor, FIELDS)).cursor  # past the creates
    for contact_id in ids:
        store.update_contact(org, contact_id, {"title": "Edited"}, store.admin.id)
        clock.advance(0.001)
    start, before, seen, more = time.perf_counter(), calls(), set(), True
    while more:  # a backlog past 2,500 events is read in windows of the log
        page = await connector.read_changes(cursor, FIELDS)
        seen |= {c.crm_id for c in page.changes}
        cursor, more = page.cursor, page.more
    took, used = time.perf_counter() - start, calls() - before
    changed = len(seen)
    bound = 50 * PER_SECOND
    print(f"event log: {changed} changed contacts, {used} calls, {took:.2f} s")
    print(f"  {changed / took:.0f} events/s; bound {bound}/s: {changed / took / bound:.2f} of it")
    print(f"  API calls per changed record: {used / max(changed, 1):.3f}")
    used, again = [], []
    for _ in range(2):
        before = calls()
        clock.advance(INTERVAL_MINUTES * 60)
        quiet = await connector.read_changes(cursor, FIELDS)
        cursor = quiet.cursor
        used.append(calls() - before)
        again.append(len(quiet.changes))
    assert again[1] == 0
    print(
        f"next read: {used[0]} calls (it re-scans the five minutes the burst ended in); "
        f"{again[0]} events delivered again (past the cursor's 5,000 seen: no-ops)"
    )
    per_hour = used[1] * 60 // INTERVAL_MINUTES
    print(f"idle read: {used[1]} calls; {per_hour} calls per hour at {INTERVAL_MINUTES} min")
    await http.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    asyncio.run(main(parser.parse_args().records))
