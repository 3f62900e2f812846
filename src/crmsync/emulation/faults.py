"""Injected faults, so connectors can be tested against the failures real CRMs produce.

One seeded draw per request picks at most one fault. Status faults (429/500/503) become an error
response in the provider's own format; the network faults are emulated so that the client sees
what a real network failure looks like:

* in-process (``served=False``, used through ``httpx.ASGITransport``, which re-raises app
  exceptions into the client): timeouts raise ``httpx.ReadTimeout`` and a reset raises
  ``httpx.RemoteProtocolError``;
* served by uvicorn (``served=True``): a reset starts a response and never finishes it, which
  makes uvicorn drop the connection; a timeout first sleeps ``timeout_sleep_seconds`` (longer than
  the client waits), then drops the connection (``timeout_before``) or answers late
  (``timeout_after``).
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import httpx
from starlette.responses import Response
from starlette.types import Receive, Scope, Send


class FaultKind(StrEnum):
    RATE_LIMIT = "429"
    SERVER_ERROR = "500"
    UNAVAILABLE = "503"
    TIMEOUT_BEFORE = "timeout_before"
    TIMEOUT_AFTER = "timeout_after"
    RESET = "reset"


ALL_FAULTS: frozenset[FaultKind] = frozenset(FaultKind)
STATUS_FAULTS: frozenset[FaultKind] = frozenset(
    {FaultKind.RATE_LIMIT, FaultKind.SERVER_ERROR, FaultKind.UNAVAILABLE}
)
SERVER_FAULTS: frozenset[FaultKind] = frozenset({FaultKind.SERVER_ERROR, FaultKind.UNAVAILABLE})
_DRAW_ORDER: tuple[FaultKind, ...] = tuple(FaultKind)


@dataclass(frozen=True)
class FaultConfig:
    rates: Mapping[FaultKind, float] = field(default_factory=dict)
    latency_seconds: float = 0.0
    burst_429: int = 0
    seed: int = 0
    timeout_sleep_seconds: float = 30.0

    def as_json(self) -> dict[str, object]:
        return {
            "rates": {kind.value: float(self.rates.get(kind, 0.0)) for kind in _DRAW_ORDER},
            "latency_seconds": self.latency_seconds,
            "burst_429": self.burst_429,
            "seed": self.seed,
            "timeout_sleep_seconds": self.timeout_sleep_seconds,
        }


class _DroppedConnection(Response):
    """Starts a response and never finishes it: uvicorn then closes the socket mid-response,
    which the client sees as a dropped connection (a raised exception would become a 500)."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"1024"), (b"content-type", b"application/json")],
            }
        )


@dataclass(frozen=True)
class FaultDecision:
    """The fault chosen for one request, and the helpers a route uses to act it out."""

    kind: FaultKind | None
    served: bool = False
    latency_seconds: float = 0.0
    timeout_sleep_seconds: float = 30.0

    @property
    def status_code(self) -> int | None:
        """The HTTP status to answer with when the fault is a status fault."""
        if self.kind is None or self.kind not in STATUS_FAULTS:
            return None
        return int(self.kind.value)

    async def apply_latency(self) -> None:
        if self.latency_seconds > 0:
            await asyncio.sleep(self.latency_seconds)

    async def fail_before_write(self) -> Response | None:
        """Act out ``timeout_before`` and ``reset``: nothing is written.

        In-process this raises the httpx exception; served it returns a response that drops the
        connection (after the timeout sleep for ``timeout_before``). ``None`` means carry on.
        """
        if self.kind is FaultKind.RESET:
            if not self.served:
                raise httpx.RemoteProtocolError("emulated connection reset")
            return _DroppedConnection()
        if self.kind is FaultKind.TIMEOUT_BEFORE:
            if not self.served:
                raise httpx.ReadTimeout("emulated timeout")
            await asyncio.sleep(self.timeout_sleep_seconds)
            return _DroppedConnection()
        return None

    async def lose_response(self, response: Response) -> Response:
        """Act out ``timeout_after``: the write has committed, then the response is lost."""
        if self.kind is not FaultKind.TIMEOUT_AFTER:
            return response
        if not self.served:
            raise httpx.ReadTimeout("emulated timeout")
        await asyncio.sleep(self.timeout_sleep_seconds)
        return response


class FaultInjector:
    """Chooses faults with configurable per-kind rates from a seeded random generator."""

    def __init__(
        self, *, served: bool = False, seed: int = 0, timeout_sleep_seconds: float = 30.0
    ) -> None:
        self.served = served
        self._lock = threading.Lock()
        self._default_sleep = timeout_sleep_seconds
        self._config = FaultConfig(seed=seed, timeout_sleep_seconds=timeout_sleep_seconds)
        self._random = random.Random(seed)
        self._burst_left = 0
        self._counts: dict[FaultKind, int] = dict.fromkeys(_DRAW_ORDER, 0)

    def configure(
        self,
        *,
        rates: Mapping[FaultKind, float] | Mapping[str, float] | None = None,
        latency_seconds: float = 0.0,
        burst_429: int = 0,
        seed: int | None = None,
        timeout_sleep_seconds: float | None = None,
    ) -> FaultConfig:
        """Replace the configuration; kinds not named get rate 0. Raises ValueError if invalid."""
        parsed = {FaultKind(kind): float(rate) for kind, rate in (rates or {}).items()}
        if any(not 0.0 <= rate <= 1.0 for rate in parsed.values()):
            raise ValueError("fault rates must be between 0 and 1")
        if sum(parsed.values()) > 1.0 + 1e-9:
            raise ValueError("fault rates must add up to at most 1")
        if latency_seconds < 0 or burst_429 < 0:
            raise ValueError("latency_seconds and burst_429 must not be negative")
        with self._lock:
            config = FaultConfig(
                rates=parsed,
                latency_seconds=latency_seconds,
                burst_429=burst_429,
                seed=self._config.seed if seed is None else seed,
                timeout_sleep_seconds=(
                    self._config.timeout_sleep_seconds
                    if timeout_sleep_seconds is None
                    else timeout_sleep_seconds
                ),
            )
            self._config = config
            self._burst_left = burst_429
            if seed is not None:
                self._random = random.Random(seed)
            return config

    @property
    def config(self) -> FaultConfig:
        with self._lock:
            return self._config

    @property
    def burst_remaining(self) -> int:
        with self._lock:
            return self._burst_left

    def decide(self, allowed: Collection[FaultKind] = ALL_FAULTS) -> FaultDecision:
        """Draw once for a request; only kinds in ``allowed`` can be chosen."""
        with self._lock:
            config = self._config
            kind: FaultKind | None = None
            if FaultKind.RATE_LIMIT in allowed and self._burst_left > 0:
                self._burst_left -= 1
                kind = FaultKind.RATE_LIMIT
            elif allowed and config.rates:
                draw = self._random.random()
                cumulative = 0.0
                for candidate in _DRAW_ORDER:
                    if candidate not in allowed:
                        continue
                    cumulative += config.rates.get(candidate, 0.0)
                    if draw < cumulative:
                        kind = candidate
                        break
            if kind is not None:
                self._counts[kind] += 1
        return FaultDecision(
            kind=kind,
            served=self.served,
            latency_seconds=config.latency_seconds if allowed else 0.0,
            timeout_sleep_seconds=config.timeout_sleep_seconds,
        )

    def counts(self) -> dict[str, int]:
        """Faults injected so far, by kind."""
        with self._lock:
            return {kind.value: count for kind, count in self._counts.items()}

    def reset(self) -> None:
        """No faults, zero counts, the generator re-seeded with the configured seed."""
        with self._lock:
            seed = self._config.seed
            self._config = FaultConfig(seed=seed, timeout_sleep_seconds=self._default_sleep)
            self._random = random.Random(seed)
            self._burst_left = 0
            self._counts = dict.fromkeys(_DRAW_ORDER, 0)
