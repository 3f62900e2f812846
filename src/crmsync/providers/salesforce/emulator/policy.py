"""What every Salesforce call goes through: API version, session, daily allocation, faults.

``/services/data/vXX.X/...`` calls need a valid session (else 401 ``INVALID_SESSION_ID``),
count against the org's daily allocation (``Sforce-Limit-Info`` on every answer, 403
``REQUEST_LIMIT_EXCEEDED`` past it) and may get any fault. An injected "429" becomes what
Salesforce really answers when too many long requests run at once: 403
``REQUEST_LIMIT_EXCEEDED`` / ``ConcurrentPerOrgLongTxn``. The token endpoint may get 500/503.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from fastapi import Request
from starlette.responses import Response

from crmsync.emulation import (
    ALL_FAULTS,
    SERVER_FAULTS,
    AccessToken,
    FaultInjector,
    FaultKind,
    OAuthStore,
    RequestCounters,
    RouteInfo,
    TokenStatus,
)
from crmsync.providers.salesforce.emulator.allocation import DailyAllocation
from crmsync.providers.salesforce.emulator.errors import (
    invalid_session,
    not_found,
    request_limit_exceeded,
    server_error,
)

API_PREFIX = "/services/data/"
IDENTITY_PREFIX = "/id/"
TOKEN_PATH = "/services/oauth2/token"
NO_FAULTS: frozenset[FaultKind] = frozenset()
_VERSION = re.compile(r"^v(\d{2})\.0$")
OLDEST_VERSION, NEWEST_VERSION = 31, 62
DAILY_LIMIT_MESSAGE = "TotalRequests Limit exceeded."
CONCURRENT_LIMIT_MESSAGE = "ConcurrentPerOrgLongTxn Limit exceeded."


def bearer(request: Request) -> str | None:
    """Salesforce takes ``Bearer <token>`` (and the older ``OAuth <token>``)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() not in ("bearer", "oauth"):
        return None
    return token.strip() or None


def supported_version(version: str) -> bool:
    match = _VERSION.match(version)
    return match is not None and OLDEST_VERSION <= int(match.group(1)) <= NEWEST_VERSION


class SalesforcePolicy:
    """The :class:`~crmsync.emulation.EmulationPolicy` of the Salesforce emulator."""

    def __init__(
        self,
        *,
        org_id: str,
        counters: RequestCounters,
        faults: FaultInjector,
        oauth: OAuthStore,
        allocation: DailyAllocation,
    ) -> None:
        self.org_id = org_id
        self._counters = counters
        self._faults = faults
        self.oauth = oauth
        self.allocation = allocation

    @property
    def counters(self) -> RequestCounters:
        return self._counters

    @property
    def faults(self) -> FaultInjector:
        return self._faults

    def fault_kinds(self, route: RouteInfo) -> frozenset[FaultKind]:
        if route.template.startswith(API_PREFIX):
            return ALL_FAULTS
        if route.template == TOKEN_PATH:
            return SERVER_FAULTS
        return NO_FAULTS

    def usage_header(self) -> dict[str, str]:
        used = self.allocation.used(self.org_id)
        return {"Sforce-Limit-Info": f"api-usage={used}/{self.allocation.max_requests}"}

    def fault_response(self, kind: FaultKind, route: RouteInfo) -> Response:
        if kind is FaultKind.RATE_LIMIT:
            return request_limit_exceeded(CONCURRENT_LIMIT_MESSAGE, self.usage_header())
        return server_error(int(kind.value))

    def session(self, request: Request) -> AccessToken | None:
        token = bearer(request)
        status, access = self.oauth.check_access_token(token) if token else (None, None)
        return access if status is TokenStatus.VALID else None

    def admit(self, request: Request, route: RouteInfo) -> Response | Mapping[str, str]:
        identity = route.template.startswith(IDENTITY_PREFIX)
        if not route.template.startswith(API_PREFIX) and not identity:
            return {}
        version = request.path_params.get("version")
        if version is not None and not supported_version(str(version)):
            return not_found().response()
        if self.session(request) is None:
            return invalid_session()
        if identity:  # identity URL calls do not count against the allocation
            return {}
        decision = self.allocation.hit(self.org_id)
        headers = self.usage_header()
        if not decision.allowed:
            return request_limit_exceeded(DAILY_LIMIT_MESSAGE, headers)
        return headers
