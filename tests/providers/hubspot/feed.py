"""A HubSpot connector on an in-process emulator whose clock the test moves: for the change
feed and webhook tests."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import httpx

from crmsync.connectors.base import AppNames, ConnectorContext
from crmsync.connectors.spec import RateLimitSpec
from crmsync.domain.records import Change, ChangeKind
from crmsync.emulation import ManualClock
from crmsync.providers.hubspot.connector import HubSpotConnector
from crmsync.providers.hubspot.emulator import HubSpotEmulator
from crmsync.providers.hubspot.spec import SPEC

FIELDS = ["firstname", "jobtitle", "email"]
UNPACED = replace(SPEC, rate_limit=RateLimitSpec(requests=1_000_000, per_seconds=1.0))
"""The emulator's limits are off and its clock is the test's: no real-time pacing either."""


@dataclass
class Feed:
    connector: HubSpotConnector
    emulator: HubSpotEmulator
    clock: ManualClock
    cursor: str | None = None
    calls: int = 0
    seen: list[Change] = field(default_factory=list)

    async def drain(self, limit: int = 500) -> list[Change]:
        """Read until HubSpot has nothing more now; the changes of every page, in order."""
        changes: list[Change] = []
        for _ in range(limit):
            page = await self.connector.read_changes(self.cursor, FIELDS)
            self.calls += 1
            changes += page.changes
            self.cursor = page.cursor
            if not page.more:
                self.seen += changes
                return changes
        raise AssertionError(f"still more after {limit} reads")

    def upserted(self, changes: list[Change]) -> list[str]:
        return [c.crm_id for c in changes if c.kind is ChangeKind.UPSERTED]


def connector_for(
    app: object, emulator: HubSpotEmulator, token: str, **settings: str
) -> HubSpotConnector:
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url=SPEC.api_base,
        headers={"Authorization": f"Bearer {token}"},
    )
    context = ConnectorContext(
        UNPACED,
        http,
        AppNames("Acme", "acme"),
        emulator.account_id,
        {
            "app_id": str(emulator.config.app_id),
            "client_secret": emulator.config.client_secret,
            **settings,
        },
    )
    return HubSpotConnector(context)
