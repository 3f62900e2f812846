"""What every HubSpot call goes through: auth, scopes, rate limits, and which faults apply.

``/crm/...`` calls need a bearer token, count against 110 requests per rolling 10 s per portal
(search instead has its own 5 per second) and may get any fault; the token endpoint may get
500/503; ``/oauth/`` and ``/_emulator/`` calls are never limited.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import formatdate

from fastapi import Request
from starlette.responses import Response

from crmsync.emulation import FaultKind, RateDecision, RouteInfo, SlidingWindowLimiter, TokenStatus
from crmsync.emulation.policy import PolicyBase
from crmsync.emulation.state import ToolkitParts
from crmsync.providers.hubspot.emulator.config import HubSpotEmulatorConfig
from crmsync.providers.hubspot.emulator.errors import (
    missing_scopes,
    rate_limited,
    server_error,
    unauthorized,
)

TOKEN_PATH = "/oauth/v1/token"
CRM_PREFIX = "/crm/"
ACCOUNT_PREFIX = "/account-info/"
AUTHENTICATED = (CRM_PREFIX, ACCOUNT_PREFIX)


def required_scopes(route: RouteInfo) -> tuple[str, ...]:
    """Any one of these scopes lets the token make the call."""
    template = route.template
    if template.startswith(ACCOUNT_PREFIX):
        return ("oauth",)
    if template.startswith("/crm/v3/owners"):
        return ("crm.objects.owners.read",)
    reading = route.method == "GET" or template.endswith(("/search", "/batch/read"))
    if template.startswith("/crm/v3/properties/"):
        kind = "crm.schemas.contacts"
    else:
        kind = "crm.objects.contacts"
    return (f"{kind}.read", f"{kind}.write") if reading else (f"{kind}.write",)


class HubSpotPolicy(PolicyBase):
    """The :class:`~crmsync.emulation.EmulationPolicy` of the HubSpot emulator."""

    def __init__(
        self,
        parts: ToolkitParts,
        *,
        config: HubSpotEmulatorConfig,
        limiter: SlidingWindowLimiter,
        search_limiter: SlidingWindowLimiter | None,
    ) -> None:
        super().__init__(parts, api_prefixes=(CRM_PREFIX,), token_path=TOKEN_PATH)
        self.config = config
        self.limiter = limiter
        self.search_limiter = search_limiter

    @property
    def group_name(self) -> str:
        return f"publicapi:oauth:{self.config.app_id}:{self.config.portal_id}"

    def fault_response(self, kind: FaultKind, route: RouteInfo) -> Response:
        if kind is FaultKind.RATE_LIMIT:
            return self._ten_secondly_refusal(
                RateDecision(False, self.limiter.max_requests, 0, self.limiter.interval_seconds, 0)
            )
        return server_error(int(kind.value))

    def rate_headers(self, decision: RateDecision) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Max": str(decision.limit),
            "X-HubSpot-RateLimit-Remaining": str(decision.remaining),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(decision.interval_seconds * 1000)),
        }

    def _ten_secondly_refusal(self, decision: RateDecision) -> Response:
        return rate_limited(
            message="You have reached your ten_secondly_rolling limit.",
            policy_name="TEN_SECONDLY_ROLLING",
            group_name=self.group_name,
            headers=self.rate_headers(decision),
        )

    def admit(self, request: Request, route: RouteInfo) -> Response | Mapping[str, str]:
        if not route.template.startswith(AUTHENTICATED):
            return {}
        status, access = self.check_bearer(request)
        if status is not TokenStatus.VALID or access is None:
            expired = (
                -self.oauth.seconds_left(access)
                if status is TokenStatus.EXPIRED and access
                else None
            )
            return unauthorized(expired_seconds_ago=expired)
        if self.config.enforce_scopes:
            needed = required_scopes(route)
            if not set(needed) & set(access.scopes):
                return missing_scopes(needed)
        if route.template.endswith("/search"):
            return self._admit_search(access.account_id)
        decision = self.limiter.hit(access.account_id)
        if not decision.allowed:
            return self._ten_secondly_refusal(decision)
        return {**self.rate_headers(decision), **self.date_header()}

    def date_header(self) -> dict[str, str]:
        """HTTP's ``Date``, on the emulator's clock (what the search index's lag runs on)."""
        return {"Date": formatdate(self.config.clock(), usegmt=True)}

    def _admit_search(self, account_id: str) -> Response | Mapping[str, str]:
        """Search has its own per-second limit and, as on HubSpot, no rate-limit headers."""
        if self.search_limiter is None or self.search_limiter.hit(account_id).allowed:
            return self.date_header()
        return rate_limited(
            message="You have reached your secondly limit.",
            policy_name="SECONDLY",
            group_name=self.group_name,
            headers={},
        )
