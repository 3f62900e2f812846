"""Shared toolkit for CRM emulators: faults, rate limits, counters, OAuth and test controls.

Each provider's emulator (HubSpot first; Salesforce, Close and HighLevel later) is a FastAPI app
built from these pieces, served in-process through ``httpx.ASGITransport`` or by uvicorn.
"""

from crmsync.emulation.clock import ManualClock
from crmsync.emulation.consent import (
    ALLOW,
    DENY,
    ConsentChoice,
    ConsentPage,
    consent_redirect,
    render_consent_page,
    render_error_page,
)
from crmsync.emulation.control import (
    CONTROL_PREFIX,
    EmulatorControls,
    create_control_router,
)
from crmsync.emulation.counters import RequestCounters
from crmsync.emulation.faults import (
    ALL_FAULTS,
    SERVER_FAULTS,
    STATUS_FAULTS,
    FaultConfig,
    FaultDecision,
    FaultInjector,
    FaultKind,
)
from crmsync.emulation.oauth import (
    AccessToken,
    AuthCode,
    OAuthApp,
    OAuthError,
    OAuthFailure,
    OAuthStore,
    RefreshPolicy,
    RefreshToken,
    TokenGrant,
    TokenStatus,
    pkce_challenge,
)
from crmsync.emulation.ratelimit import RateDecision, SlidingWindowLimiter
from crmsync.emulation.routing import EmulatedRoute, EmulationPolicy, RouteInfo, install_policy

__all__ = [
    "ALLOW",
    "ALL_FAULTS",
    "CONTROL_PREFIX",
    "DENY",
    "SERVER_FAULTS",
    "STATUS_FAULTS",
    "AccessToken",
    "AuthCode",
    "ConsentChoice",
    "ConsentPage",
    "EmulatedRoute",
    "EmulationPolicy",
    "EmulatorControls",
    "FaultConfig",
    "FaultDecision",
    "FaultInjector",
    "FaultKind",
    "ManualClock",
    "OAuthApp",
    "OAuthError",
    "OAuthFailure",
    "OAuthStore",
    "RateDecision",
    "RefreshPolicy",
    "RefreshToken",
    "RequestCounters",
    "RouteInfo",
    "SlidingWindowLimiter",
    "TokenGrant",
    "TokenStatus",
    "consent_redirect",
    "create_control_router",
    "install_policy",
    "pkce_challenge",
    "render_consent_page",
    "render_error_page",
]
