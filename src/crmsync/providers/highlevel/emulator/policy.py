"""What every HighLevel call goes through: the Version header, auth, scopes, rate limits.

API calls (``/contacts``, ``/locations``, ``/users``) need a ``Version`` header naming one of
HighLevel's supported API versions (``API_VERSIONS``) and a location token with the endpoint's
scope, count against 100 requests per rolling 10 s and 200,000 per day per location (answered
in ``X-RateLimit-*`` headers) and may get any fault. The token endpoint may get 500/503; the
chooselocation page and ``/_emulator/`` never do.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Mapping

from fastapi import Request
from starlette.responses import Response

from crmsync.emulation import FaultKind, RateDecision, RouteInfo, SlidingWindowLimiter, TokenStatus
from crmsync.emulation.policy import PolicyBase
from crmsync.emulation.state import ToolkitParts
from crmsync.providers.highlevel.emulator.errors import (
    bad_request,
    status_error,
    unauthorized,
)

API_VERSIONS = frozenset({"v3", "2023-02-21", "2021-07-28", "2021-04-15", "legacy"})
"""The "Supported Versions" table of HighLevel's API Versioning page: date-based versions before
``v3``, named ones from it on, each passed as the ``Version`` header. The official Python SDK
(gohighlevel-api-client 3.x) sends ``v3`` to the same paths; the OpenAPI files name
``2021-07-28`` for these endpoints. Every supported version gets the same answers here: the
emulator models no difference between them (see docs/providers/highlevel.md)."""
API_PREFIXES = ("/contacts", "/locations", "/users")
TOKEN_PATH = "/oauth/token"


def required_scopes(route: RouteInfo) -> tuple[str, ...]:
    """Any one of these lets the token make the call (a write scope also reads)."""
    template = route.template
    if template.startswith("/users"):
        return ("users.readonly",)
    if template.startswith("/locations/{locationId}/customFields"):
        kind = "locations/customFields"
    elif template.startswith("/locations"):
        return ("locations.readonly",)
    else:
        kind = "contacts"
    reading = route.method == "GET" or template == "/contacts/search"
    return (f"{kind}.readonly", f"{kind}.write") if reading else (f"{kind}.write",)


class HighLevelPolicy(PolicyBase):
    """The :class:`~crmsync.emulation.EmulationPolicy` of the HighLevel emulator."""

    def __init__(
        self,
        parts: ToolkitParts,
        *,
        limiter: SlidingWindowLimiter,
        daily: SlidingWindowLimiter,
        clock: Callable[[], float],
    ) -> None:
        super().__init__(parts, api_prefixes=API_PREFIXES, token_path=TOKEN_PATH)
        self.clock = clock
        self.limiter = limiter
        self.daily = daily
        self._last_daily: dict[str, RateDecision] = {}

    def fault_response(self, kind: FaultKind, route: RouteInfo) -> Response:
        if kind is FaultKind.RATE_LIMIT:
            burst = RateDecision(
                False, self.limiter.max_requests, 0, self.limiter.interval_seconds, 0
            )
            # a burst refusal: the day's allowance is what it was, not spent
            latest = next(reversed(self._last_daily), "")
            return status_error(429, self.rate_headers(burst, self._daily_seen(latest)))
        return status_error(int(kind.value))

    def _daily_hit(self, location_id: str) -> RateDecision:
        decision = self.daily.hit(location_id)
        self._last_daily[location_id] = decision
        return decision

    def _daily_seen(self, location_id: str) -> RateDecision:
        """The day's allowance as last answered, without using any of it."""
        limit = self.daily.max_requests
        fresh = RateDecision(True, limit, limit, self.daily.interval_seconds, 0)
        return self._last_daily.get(location_id, fresh)

    @staticmethod
    def rate_headers(burst: RateDecision, daily: RateDecision) -> dict[str, str]:
        return {
            "X-RateLimit-Max": str(burst.limit),
            "X-RateLimit-Remaining": str(burst.remaining),
            "X-RateLimit-Interval-Milliseconds": str(int(burst.interval_seconds * 1000)),
            "X-RateLimit-Limit-Daily": str(daily.limit),
            "X-RateLimit-Daily-Remaining": str(daily.remaining),
        }

    def admit(self, request: Request, route: RouteInfo) -> Response | Mapping[str, str]:
        if not route.template.startswith(API_PREFIXES):
            return {}
        version = request.headers.get("version")
        if not version:  # messages unconfirmed
            return bad_request("Version header was not found").response()
        if version not in API_VERSIONS:
            return bad_request(f"Version {version} is not supported").response()
        status, access = self.check_bearer(request)
        if status is not TokenStatus.VALID or access is None:
            return unauthorized().response()
        if not set(required_scopes(route)) & set(access.scopes):
            return unauthorized("The token is not authorized for this scope.").response()
        request.state.location_id = access.account_id
        # A burst refusal does not use up the day; a spent day makes every request a refusal.
        burst = self.limiter.hit(access.account_id)
        daily = (
            self._daily_hit(access.account_id)
            if burst.allowed
            else self._daily_seen(access.account_id)
        )
        headers = self.rate_headers(burst, daily)
        # every HTTP answer carries its server's time (RFC 9110), here the emulator's clock
        headers["Date"] = email.utils.formatdate(self.clock(), usegmt=True)
        if not (daily.allowed and burst.allowed):
            return status_error(429, headers)
        return headers
