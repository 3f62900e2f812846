"""Settings of the HighLevel emulator; defaults match a Marketplace app in an agency account."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LocationSeed:
    """A sub-account the agency has from the start."""

    name: str
    city: str
    state: str
    country: str = "US"


@dataclass
class HighLevelEmulatorConfig:
    client_id: str = "crmsync-demo.highlevel"
    client_secret: str = "crmsync-demo-highlevel-secret"
    app_name: str = "crmsync"
    company_id: str = "cmpAcmeAgency0000001"
    company_name: str = "crmsync Demo Agency"
    locations: tuple[LocationSeed, ...] = (
        LocationSeed("Main Street Dental", "Austin", "TX"),
        LocationSeed("Harbor Fitness", "San Diego", "CA"),
    )
    admin_email: str = "admin@crmsync-demo.test"
    """The agency admin who installs the app: a user of every location."""
    rate_limit_enabled: bool = True
    max_requests: int = 100
    interval_seconds: float = 10.0
    daily_requests: int = 200_000
    access_token_ttl: int = 86_399
    timeout_sleep_seconds: float = 30.0
    fault_seed: int = 0
    index_delay_seconds: float = 0.0
    """How long a write takes to be searchable ("updates may take a few seconds")."""
    app_id: str = "crmsync"
    """The Marketplace app's id, sent as ``appId`` in webhooks (a client id is
    ``<appId>-<suffix>``)."""
    clock: Callable[[], float] = field(default=time.time)
