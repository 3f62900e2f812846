"""The org's daily API allocation as crmsync sees it, shared by every connector of one org
(one per account in the runtime's ``Allocations``, through ``ConnectorContext``).

Every answer carries ``Sforce-Limit-Info: api-usage=used/max``. Past ``share`` of the
allocation crmsync spreads what is left over the time until the window turns, leaving the
rest to the org's other integrations; once a request would wait longer than ``MAX_SLEEP``, or
Salesforce answered 403 ``REQUEST_LIMIT_EXCEEDED`` (``TotalRequests``), requests stop and the
work is rescheduled for the next window: a pause, not a failure.

Salesforce counts over a rolling 24 hours and names no reset time, so "the next window" is a
guess: the next multiple of ``window_seconds`` (UTC midnight by default), at most ``probe``
seconds away, after which one request finds out.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable

import httpx

from crmsync.domain.outcomes import Action, Resolution
from crmsync.errors import RateLimited

_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
MAX_SLEEP = 10.0
DEFAULT_SHARE = 0.9
DEFAULT_WINDOW = 86_400.0
DEFAULT_PROBE = 3_600.0


class Allocation:
    """What Salesforce's answers said of the org's usage, and how long to hold requests."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.used = 0
        self.limit = 0
        self.paused_until = 0.0
        self.share = DEFAULT_SHARE
        self.window = DEFAULT_WINDOW
        self.probe = DEFAULT_PROBE

    def configure(self, share: float, window: float, probe: float) -> None:
        with self.lock:
            self.share, self.window, self.probe = share, window, probe

    def to_boundary(self) -> float:
        return max(1.0, self.window - self.clock() % self.window)

    def until_next_window(self) -> float:
        """How long a refused request pauses the work: to the boundary, or ``probe``."""
        return min(self.to_boundary(), self.probe)

    def observe(self, response: httpx.Response) -> None:
        """``ApiClient(on_response=...)``: read the usage header and daily-limit refusals."""
        match = _USAGE.search(response.headers.get("Sforce-Limit-Info", ""))
        with self.lock:
            if match:
                self.used, self.limit = int(match.group(1)), int(match.group(2))
            if response.status_code == 403 and b"TotalRequests" in response.content:
                self.paused_until = self.clock() + self.until_next_window()

    def wait(self) -> float:
        """Seconds to hold the next request: 0 below the share, then what is left spread out."""
        with self.lock:
            now = self.clock()
            if self.paused_until > now:
                return self.paused_until - now
            if not self.limit or self.used < self.share * self.limit:
                return 0.0
            remaining = max(self.limit - self.used, 0)
        return self.to_boundary() / remaining if remaining else self.until_next_window()

    async def before_request(self) -> None:
        wait = self.wait()
        if wait > MAX_SLEEP:
            raise RateLimited(
                Resolution(
                    Action.RATE_LIMITED,
                    f"Salesforce's daily API allocation is nearly used ({self.used} of "
                    f"{self.limit}); waiting for the next window",
                    retry_after=min(wait, self.probe),
                    code="REQUEST_LIMIT_EXCEEDED",
                )
            )
        if wait > 0:
            await asyncio.sleep(wait)
