"""What every Close call goes through: authentication, rate limits, and which faults apply.

``/api/v1/`` calls need an OAuth bearer token or an API key (HTTP Basic, key as user name) and
count against two sliding windows per endpoint group (method + path): one per key and one per
organisation, 3x larger, as Close documents. The token endpoint may get 500/503; the consent page
and ``/_emulator/`` are never limited or faulted. ``fault_scope`` narrows injected faults to some
endpoints, e.g. only ``POST /api/v1/lead/`` to lose the answer of a create.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import Request
from starlette.responses import Response

from crmsync.emulation import FaultKind, RateDecision, RouteInfo, SlidingWindowLimiter, TokenStatus
from crmsync.emulation.policy import NO_FAULTS, PolicyBase
from crmsync.emulation.state import ToolkitParts
from crmsync.providers.close.emulator.config import CloseEmulatorConfig
from crmsync.providers.close.emulator.errors import (
    rate_limit_header,
    rate_limited,
    server_error,
    unauthorized,
)

API_PREFIX = "/api/v1/"
TOKEN_PATH = "/oauth2/token/"


@dataclass(frozen=True)
class Caller:
    """Who made an API call: the organisation, the user, and the key the limits count."""

    organization_id: str
    user_email: str
    key: str


def route_key(route: RouteInfo) -> str:
    return f"{route.method} {route.template}"


class ClosePolicy(PolicyBase):
    """The :class:`~crmsync.emulation.EmulationPolicy` of the Close emulator."""

    def __init__(
        self,
        parts: ToolkitParts,
        *,
        config: CloseEmulatorConfig,
        limiter: SlidingWindowLimiter,
        org_limiter: SlidingWindowLimiter,
        primary_org: str,
    ) -> None:
        super().__init__(parts, api_prefixes=(API_PREFIX,), token_path=TOKEN_PATH)
        self.config = config
        self.limiter = limiter
        self.org_limiter = org_limiter
        self.primary_org = primary_org
        self.fault_scope: frozenset[str] | None = None
        """Endpoints (``"POST /api/v1/lead/"``) faults may hit; None: every API endpoint."""

    def fault_kinds(self, route: RouteInfo) -> frozenset[FaultKind]:
        if self.fault_scope is not None and route_key(route) not in self.fault_scope:
            return NO_FAULTS
        return super().fault_kinds(route)

    def fault_response(self, kind: FaultKind, route: RouteInfo) -> Response:
        if kind is FaultKind.RATE_LIMIT:
            interval = self.limiter.interval_seconds
            refused = RateDecision(False, self.limiter.max_requests, 0, interval, interval)
            return rate_limited(refused, "key", route_key(route))
        return server_error(int(kind.value))

    def authenticate(self, request: Request) -> Caller | None:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "bearer" and credentials:
            status, access = self.oauth.check_access_token(credentials)
            if status is TokenStatus.VALID and access is not None:
                return Caller(access.account_id, access.user, f"token:{access.token}")
        elif scheme.lower() == "basic" and credentials:
            try:
                user, _, _ = base64.b64decode(credentials).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            if user == self.config.api_key:
                return Caller(self.primary_org, self.config.admin_email, f"key:{user}")
        return None

    def admit(self, request: Request, route: RouteInfo) -> Response | Mapping[str, str]:
        if not route.template.startswith(API_PREFIX):
            return {}
        caller = self.authenticate(request)
        if caller is None:
            return unauthorized()
        request.state.caller = caller
        group = route_key(route)
        by_key = self.limiter.hit(f"{caller.key} {group}")
        if not by_key.allowed:
            return rate_limited(by_key, "key", group)
        self._follow_key_limit()
        by_org = self.org_limiter.hit(f"{caller.organization_id} {group}")
        if not by_org.allowed:
            return rate_limited(by_org, "organization", group)
        nearest = min((by_key, by_org), key=lambda d: d.remaining / max(d.limit, 1))
        return rate_limit_header(nearest)

    def _follow_key_limit(self) -> None:
        """``PUT /_emulator/ratelimit`` changes the key limit; the organisation's follows."""
        wanted = self.limiter.max_requests * self.config.organization_multiplier
        if (self.org_limiter.max_requests, self.org_limiter.interval_seconds) != (
            wanted,
            self.limiter.interval_seconds,
        ):
            self.org_limiter.configure(
                max_requests=wanted, interval_seconds=self.limiter.interval_seconds
            )
