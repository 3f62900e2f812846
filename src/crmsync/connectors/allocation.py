"""A CRM account's daily API allocation as crmsync sees it, shared by every connector of one
account (one per account in the runtime's ``Allocations``, through ``ConnectorContext``).

Each provider reads its own answers into it (Salesforce's ``Sforce-Limit-Info``, HighLevel's
``X-RateLimit-Daily-Remaining``) with :meth:`DailyAllocation.record` and, when the CRM refused
a call for the day, :meth:`DailyAllocation.exhausted`. Past ``share`` of the allocation crmsync
spreads what is left over the time until the window turns, leaving the rest to the account's
other integrations; once a request would wait longer than ``MAX_SLEEP``, or the CRM said the
day is spent, requests stop and the work is rescheduled for the next window: a pause, not a
failure.

Neither CRM says when its window turns, so "the next window" is a guess: the next multiple of
``window_seconds`` (UTC midnight by default), at most ``probe`` seconds away, after which one
request finds out.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from crmsync.domain.outcomes import Action, Resolution
from crmsync.errors import RateLimited

MAX_SLEEP = 10.0
DEFAULT_SHARE = 0.9
DEFAULT_WINDOW = 86_400.0
DEFAULT_PROBE = 3_600.0


class DailyAllocation:
    """What a CRM's answers said of the account's daily usage, and how long to hold
    requests. Subclasses name the CRM and read its answers."""

    label = "the CRM"
    code = "DAILY_LIMIT"
    """The code a pause is logged with."""

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

    def record(self, used: int, limit: int) -> None:
        """The CRM's latest count of the day's requests, and its allocation."""
        with self.lock:
            self.used, self.limit = used, limit

    def exhausted(self) -> None:
        """The CRM refused a request for the day: hold every request until the next window."""
        with self.lock:
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
                    f"{self.label}'s daily API allocation is nearly used ({self.used} of "
                    f"{self.limit}); waiting for the next window",
                    retry_after=min(wait, self.probe),
                    code=self.code,
                )
            )
        if wait > 0:
            await asyncio.sleep(wait)
