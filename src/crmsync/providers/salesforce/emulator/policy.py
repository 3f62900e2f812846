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

from crmsync.emulation import AccessToken, FaultKind, RouteInfo, TokenStatus
from crmsync.emulation.policy import PolicyBase
from crmsync.emulation.state import ToolkitParts
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
_VERSION = re.compile(r"^v(\d{2})\.0$")
OLDEST_VERSION, NEWEST_VERSION = 31, 62
DAILY_LIMIT_MESSAGE = "TotalRequests Limit exceeded."
CONCURRENT_LIMIT_MESSAGE = "ConcurrentPerOrgLongTxn Limit exceeded."


SCHEMES = frozenset({"bearer", "oauth"})
"""Salesforce takes ``Bearer <token>`` (and the older ``OAuth <token>``)."""


def supported_version(version: str) -> bool:
    match = _VERSION.match(version)
    return match is not None and OLDEST_VERSION <= int(match.group(1)) <= NEWEST_VERSION


class SalesforcePolicy(PolicyBase):
    """The :class:`~crmsync.emulation.EmulationPolicy` of the Salesforce emulator."""

    def __init__(self, parts: ToolkitParts, *, org_id: str, allocation: DailyAllocation) -> None:
        super().__init__(parts, api_prefixes=(API_PREFIX,), token_path=TOKEN_PATH)
        self.org_id = org_id
        self.allocation = allocation

    def usage_header(self) -> dict[str, str]:
        used = self.allocation.used(self.org_id)
        return {"Sforce-Limit-Info": f"api-usage={used}/{self.allocation.max_requests}"}

    def fault_response(self, kind: FaultKind, route: RouteInfo) -> Response:
        if kind is FaultKind.RATE_LIMIT:
            return request_limit_exceeded(CONCURRENT_LIMIT_MESSAGE, self.usage_header())
        return server_error(int(kind.value))

    def session(self, request: Request) -> AccessToken | None:
        status, access = self.check_bearer(request, SCHEMES)
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
