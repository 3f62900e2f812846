"""Settings of the HubSpot emulator; defaults match a public OAuth app on a real portal."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class HubSpotEmulatorConfig:
    client_id: str = "crmsync-demo"
    client_secret: str = "crmsync-demo-secret"
    portal_id: int = 12345678
    app_id: int = 1234567
    app_name: str = "crmsync"
    hub_domain: str = "crmsync-demo.hubspot.test"
    rate_limit_enabled: bool = True
    max_requests: int = 110
    interval_seconds: float = 10.0
    search_requests_per_second: int | None = 5
    """The separate search limit; ``None`` or 0 turns it off."""
    access_token_ttl: int = 1800
    enforce_scopes: bool = True
    """Answer 403 MISSING_SCOPES when the token lacks the scope an endpoint needs."""
    admin_email: str = "admin@crmsync-demo.test"
    """The portal's first user: the seeded owner and the user who installs the app."""
    search_lag_seconds: float = 0.0
    """How long a write takes to become searchable (HubSpot: ~10 s for a create, up to ~60 s
    for an update); 0 keeps search consistent with reads. Set with ``PUT /_emulator/search``."""
    timeout_sleep_seconds: float = 30.0
    fault_seed: int = 0
    clock: Callable[[], float] = field(default=time.time)
