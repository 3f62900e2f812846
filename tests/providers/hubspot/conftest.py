"""Fixtures for the HubSpot emulator tests: the anyio backend, a clock tests move by hand, and
a HubSpot portal connected through OAuth."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from crmsync.emulation import ManualClock
from crmsync.providers.hubspot.emulator import HubSpotEmulatorConfig, create_app
from tests.providers.hubspot.hubspot_portal import Portal, client_for, connect


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def portal(anyio_backend: str, clock: ManualClock) -> AsyncIterator[Portal]:
    app = create_app(HubSpotEmulatorConfig(clock=clock))
    async with client_for(app) as client:
        yield Portal(client, app.state.emulator, await connect(client), clock)
