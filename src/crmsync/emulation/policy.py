"""The part of an :class:`~crmsync.emulation.routing.EmulationPolicy` every CRM's shares.

Every emulator faults its API the same way (any fault on the API, 500/503 on the token
endpoint, none on consent pages and controls) and reads bearer tokens the same way; what it
answers, and how it authenticates and rate-limits, stays in the CRM's policy.
"""

from __future__ import annotations

from fastapi import Request

from crmsync.emulation.counters import RequestCounters
from crmsync.emulation.faults import ALL_FAULTS, SERVER_FAULTS, FaultInjector, FaultKind
from crmsync.emulation.oauth import AccessToken, TokenStatus
from crmsync.emulation.routing import RouteInfo
from crmsync.emulation.state import ToolkitParts

NO_FAULTS: frozenset[FaultKind] = frozenset()
BEARER = frozenset({"bearer"})


class PolicyBase:
    """Counters, faults and OAuth taken from the emulator's parts once (the route pipeline
    reads them on every call), and ``fault_kinds`` by route prefix."""

    def __init__(
        self, parts: ToolkitParts, *, api_prefixes: tuple[str, ...], token_path: str
    ) -> None:
        self._counters = parts.counters
        self._faults = parts.faults
        self.oauth = parts.oauth
        self._api_prefixes = api_prefixes
        self._token_path = token_path

    @property
    def counters(self) -> RequestCounters:
        return self._counters

    @property
    def faults(self) -> FaultInjector:
        return self._faults

    def fault_kinds(self, route: RouteInfo) -> frozenset[FaultKind]:
        if route.template.startswith(self._api_prefixes):
            return ALL_FAULTS
        if route.template == self._token_path:
            return SERVER_FAULTS
        return NO_FAULTS

    def check_bearer(
        self, request: Request, schemes: frozenset[str] = BEARER
    ) -> tuple[TokenStatus | None, AccessToken | None]:
        """The token of ``Authorization: <scheme> <token>`` (``schemes`` in lower case) as the
        OAuth store knows it; ``(None, None)`` without one."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() not in schemes or not token:
            return None, None
        return self.oauth.check_access_token(token)
