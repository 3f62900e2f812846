"""Test controls under ``/_emulator/``: reset, counters, faults, rate limits and tokens.

These routes bypass auth, rate limits and faults; providers add their own (seeding) to the same
prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from crmsync.emulation.counters import RequestCounters
from crmsync.emulation.faults import FaultInjector, FaultKind
from crmsync.emulation.oauth import OAuthApp, OAuthStore, RefreshPolicy
from crmsync.emulation.ratelimit import SlidingWindowLimiter

CONTROL_PREFIX = "/_emulator"


@dataclass
class EmulatorControls:
    """The pieces of an emulator the control routes act on.

    ``reset`` restores the provider's seeded data; ``linked_limiters`` (e.g. a search limit)
    follow the main limiter's ``enabled`` switch.
    """

    faults: FaultInjector
    counters: RequestCounters
    rate_limiter: SlidingWindowLimiter
    oauth: OAuthStore
    reset: Callable[[], None]
    linked_limiters: Sequence[SlidingWindowLimiter] = field(default_factory=tuple)

    def reset_all(self, *, include_tokens: bool = False) -> None:
        """Seeded data back, no faults, zero counters, empty rate windows; tokens optionally."""
        self.reset()
        self.faults.reset()
        self.counters.reset()
        for limiter in (self.rate_limiter, *self.linked_limiters):
            limiter.reset()
        if include_tokens:
            self.oauth.reset()


class FaultsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rates: dict[FaultKind, float] = Field(default_factory=dict)
    latency_seconds: float = Field(default=0.0, ge=0)
    burst_429: int = Field(default=0, ge=0)
    seed: int | None = None
    timeout_sleep_seconds: float | None = Field(default=None, ge=0)


class RateLimitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    max_requests: int | None = Field(default=None, ge=1)
    interval_seconds: float | None = Field(default=None, gt=0)


class AppBody(BaseModel):
    """An OAuth app a customer registers with the CRM (a Salesforce connected app, a HubSpot
    or HighLevel developer app, a Close OAuth app)."""

    model_config = ConfigDict(extra="forbid")

    client_secret: str = Field(min_length=1, max_length=200)
    refresh_token_policy: RefreshPolicy = RefreshPolicy.UNTIL_REVOKED
    refresh_token_ttl_seconds: float | None = Field(default=None, gt=0)
    redirect_uris: list[str] = Field(default_factory=list, max_length=20)


def _faults_json(faults: FaultInjector) -> dict[str, object]:
    return {
        **faults.config.as_json(),
        "burst_429_remaining": faults.burst_remaining,
        "injected": faults.counts(),
    }


def create_control_router(controls: EmulatorControls) -> APIRouter:
    """The shared ``/_emulator/`` routes for one emulator."""
    router = APIRouter(prefix=CONTROL_PREFIX, tags=["emulator controls"])

    @router.post("/reset")
    def reset(include_tokens: bool = False) -> dict[str, object]:
        controls.reset_all(include_tokens=include_tokens)
        return {"reset": True, "include_tokens": include_tokens}

    @router.get("/counters")
    def counters() -> dict[str, object]:
        return controls.counters.snapshot()

    @router.post("/counters/reset")
    def reset_counters() -> dict[str, object]:
        controls.counters.reset()
        return controls.counters.snapshot()

    @router.get("/faults")
    def get_faults() -> dict[str, object]:
        return _faults_json(controls.faults)

    @router.put("/faults")
    def put_faults(body: FaultsBody) -> dict[str, object]:
        try:
            controls.faults.configure(
                rates=body.rates,
                latency_seconds=body.latency_seconds,
                burst_429=body.burst_429,
                seed=body.seed,
                timeout_sleep_seconds=body.timeout_sleep_seconds,
            )
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        return _faults_json(controls.faults)

    @router.get("/ratelimit")
    def get_ratelimit() -> dict[str, object]:
        return controls.rate_limiter.as_json()

    @router.put("/ratelimit")
    def put_ratelimit(body: RateLimitBody) -> dict[str, object]:
        controls.rate_limiter.configure(
            enabled=body.enabled,
            max_requests=body.max_requests,
            interval_seconds=body.interval_seconds,
        )
        for limiter in controls.linked_limiters:
            limiter.configure(enabled=body.enabled)
        return controls.rate_limiter.as_json()

    @router.put("/apps/{client_id}")
    def put_app(client_id: str, body: AppBody) -> dict[str, object]:
        timed = body.refresh_token_policy is RefreshPolicy.AFTER
        if timed != (body.refresh_token_ttl_seconds is not None):
            raise HTTPException(
                status_code=422,
                detail="refresh_token_ttl_seconds goes with the 'after' policy, and only with it",
            )
        app = OAuthApp(
            client_id,
            body.client_secret,
            body.refresh_token_policy,
            body.refresh_token_ttl_seconds,
            tuple(body.redirect_uris),
        )
        controls.oauth.register_app(app)
        return {"client_id": client_id, "refresh_token_policy": str(app.refresh_policy)}

    @router.post("/tokens/revoke")
    def revoke_tokens() -> dict[str, object]:
        return {"revoked": controls.oauth.revoke_account()}

    @router.post("/tokens/expire")
    def expire_tokens() -> dict[str, object]:
        return {"expired": controls.oauth.expire_access_tokens()}

    return router
