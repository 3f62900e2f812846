"""The location's daily allowance (``connectors.allocation``), read from HighLevel's answers.

HighLevel allows 200,000 requests a day per app and location besides the burst limit, and
tells what is left on every answer (``X-RateLimit-Limit-Daily``,
``X-RateLimit-Daily-Remaining``); a 429 with ``X-RateLimit-Daily-Remaining: 0`` says the day is
spent. Reading changes and writing draw from the same allowance (and the same burst budget),
so one object per location holds back both. When the day resets is unconfirmed: UTC midnight
is assumed.
"""

from __future__ import annotations

import httpx

from crmsync.connectors.allocation import DailyAllocation

LIMIT = "X-RateLimit-Limit-Daily"
REMAINING = "X-RateLimit-Daily-Remaining"


class HighLevelAllocation(DailyAllocation):
    label = "HighLevel"
    code = "DAILY_LIMIT_EXCEEDED"

    def observe(self, response: httpx.Response) -> None:
        """``ApiClient(on_response=...)``: the day's usage, and a refusal for the day."""
        limit, remaining = response.headers.get(LIMIT), response.headers.get(REMAINING)
        if limit and remaining and limit.isdigit() and remaining.isdigit():
            self.record(int(limit) - int(remaining), int(limit))
        if response.status_code == 429 and remaining == "0":
            self.exhausted()
