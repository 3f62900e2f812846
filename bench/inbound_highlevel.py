"""HighLevel's read half against its limits, in-process: a full read of a location, the calls
a batch of changed contacts costs, and what an idle read costs.

The emulator keeps its real limits (100 requests per rolling 10 s per location) and the
connector paces at HighLevel's published rate, on the wall clock. The bound of a full read is
500 contacts per search at 10 searches a second: 5,000 contacts/s. The contacts are made an
hour before the reads (as a location's are), so the overlap window behind them is long past.

    .venv/bin/python bench/inbound_highlevel.py --contacts 20000 --changed 1000
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
from crmsync.connectors.http import Allocations
from crmsync.providers.highlevel.client import SEARCH_PAGE_LIMIT
from crmsync.providers.highlevel.connector import HighLevelConnector
from crmsync.providers.highlevel.emulator import HighLevelEmulatorConfig
from crmsync.providers.highlevel.emulator.records import ContactInput
from crmsync.providers.highlevel.emulator.store import HighLevelStore
from crmsync.providers.highlevel.spec import SPEC
from tests.providers.highlevel.test_highlevel_emulator import Agency

FIELDS = ["firstName", "lastName", "email", "assignedTo", "contact.acme_person_id"]
BOUND = SEARCH_PAGE_LIMIT * SPEC.rate_limit.requests / SPEC.rate_limit.per_seconds


class Shifted:
    """The wall clock, ``offset`` seconds behind."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() - self.offset


class Location:
    def __init__(self) -> None:
        self.clock = Shifted()
        self.agency = Agency(HighLevelEmulatorConfig(clock=self.clock))
        self.token = str(self.agency.connect()["access_token"])
        self.location = self.agency.locations[0]
        self.allocations = Allocations()
        self.field = self.agency.field("Acme Person ID")

    def calls(self) -> int:
        return sum(self.agency.emulator.counters.by_endpoint().values())

    def seed(self, n: int) -> list[str]:
        store = self.agency.emulator.store
        self.clock.offset = 3_600.0
        try:
            return self._seed(store, n)
        finally:
            self.clock.offset = 0.0

    def _seed(self, store: HighLevelStore, n: int) -> list[str]:
        return [
            store.create_contact(
                self.location,
                ContactInput(
                    attributes={"firstName": "Bench", "lastName": f"P{i}"},
                    custom={self.field: f"p{i}"},
                ),
            ).id
            for i in range(n)
        ]

    async def drain(self, cursor: str | None) -> tuple[str | None, int, int]:
        """One run: a connector, read until caught up; (cursor, changes, pages)."""
        headers = {"Authorization": f"Bearer {self.token}"}
        transport = httpx.ASGITransport(app=self.agency.app)
        async with httpx.AsyncClient(
            transport=transport, base_url=SPEC.api_base, headers=headers
        ) as http:
            context = ConnectorContext(
                SPEC,
                http,
                AppNames("Acme", "acme"),
                account_id=self.location,
                allocations=self.allocations,
            )
            connector = HighLevelConnector(context)
            changes = pages = 0
            while True:
                page = await connector.read_changes(cursor, FIELDS)
                cursor, changes, pages = page.cursor, changes + len(page.changes), pages + 1
                if not page.more:
                    return cursor, changes, pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--changed", type=int, default=1_000)
    args = parser.parse_args()
    loc = Location()
    ids = loc.seed(args.contacts)

    before, started = loc.calls(), time.perf_counter()
    cursor, read, pages = asyncio.run(loc.drain(None))
    elapsed = time.perf_counter() - started
    rate = read / elapsed
    print(
        f"full read: {read} contacts in {elapsed:.1f} s, {loc.calls() - before} calls "
        f"({pages} pages): {rate:,.0f} contacts/s = {rate / BOUND:.0%} of {BOUND:,.0f}/s"
    )

    store = loc.agency.emulator.store
    for crm_id in ids[: args.changed]:
        store.update_contact(loc.location, crm_id, ContactInput(attributes={"lastName": "Edit"}))
    before = loc.calls()
    cursor, read, _ = asyncio.run(loc.drain(cursor))
    calls = loc.calls() - before
    print(f"changed: {read} of {args.changed} read in {calls} calls: {calls / read:.4f} per change")

    for n, later in enumerate((60.0, 960.0)):  # the next scheduled reads, nothing changed
        loc.clock.offset = -later
        before = loc.calls()
        cursor, read, _ = asyncio.run(loc.drain(cursor))
        idle = loc.calls() - before
        print(f"idle read {n + 1}: {read} changes, {idle} calls")
    print(f"every 15 min: {idle * 4} calls an hour")
    print("(each run reads the location's custom fields once: one of those calls)")


if __name__ == "__main__":
    main()
