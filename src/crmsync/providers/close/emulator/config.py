"""Settings of the Close emulator; defaults match an OAuth app installed by an org admin."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class CloseEmulatorConfig:
    client_id: str = "crmsync-demo"
    client_secret: str = "crmsync-demo-secret"
    app_name: str = "crmsync"
    organizations: tuple[str, ...] = ("Crmsync Demo", "Crmsync Demo (sandbox)")
    """The admin belongs to each; the first is where seeded users and harness records live."""
    admin_email: str = "admin@crmsync-demo.test"
    """The Close user who signs in on the consent page."""
    api_key: str = "api_crmsync_demo_key"
    """Accepted as HTTP Basic user name (empty password), for the first organisation."""
    api_key_id: str = "api_2d8Zk3crmsyncDemoKeyId"
    """The key's id, as events name it (``api_key_id``)."""
    consolidate_seconds: float = 30.0
    """Updates of one object by one actor this close together are one event."""
    rate_limit_enabled: bool = True
    max_requests: int = 20
    """Per API key (or OAuth token) and endpoint group, in ``interval_seconds``."""
    interval_seconds: float = 1.0
    organization_multiplier: int = 3
    """The organisation-wide limit is this many times the per-key limit, as on Close."""
    access_token_ttl: int = 3600
    rotate_refresh_tokens: bool = True
    timeout_sleep_seconds: float = 30.0
    fault_seed: int = 0
    clock: Callable[[], float] = field(default=time.time)
