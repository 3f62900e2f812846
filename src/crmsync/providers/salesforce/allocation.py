"""The org's daily API allocation (``connectors.allocation``), read from Salesforce's answers.

Every answer carries ``Sforce-Limit-Info: api-usage=used/max``; a 403 ``REQUEST_LIMIT_EXCEEDED``
(``TotalRequests``) says the allocation is spent. Salesforce counts over a rolling 24 hours
and names no reset time.
"""

from __future__ import annotations

import re

import httpx

from crmsync.connectors.allocation import (
    DEFAULT_PROBE,
    DEFAULT_SHARE,
    DEFAULT_WINDOW,
    MAX_SLEEP,
    DailyAllocation,
)

__all__ = ["DEFAULT_PROBE", "DEFAULT_SHARE", "DEFAULT_WINDOW", "MAX_SLEEP", "Allocation"]

_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")


class Allocation(DailyAllocation):
    label = "Salesforce"
    code = "REQUEST_LIMIT_EXCEEDED"

    def observe(self, response: httpx.Response) -> None:
        """``ApiClient(on_response=...)``: read the usage header and daily-limit refusals."""
        match = _USAGE.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.record(int(match.group(1)), int(match.group(2)))
        if response.status_code == 403 and b"TotalRequests" in response.content:
            self.exhausted()
