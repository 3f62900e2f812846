"""The HTTP client every connector is composed from: rate budget, auth, retry, error table."""

from __future__ import annotations

import asyncio
import email.utils
import functools
import random
import ssl
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any, TypeVar

import httpx

from crmsync import jsoncodec
from crmsync.connectors.paging import PageRequest
from crmsync.connectors.spec import ProviderSpec, RateLimitSpec
from crmsync.domain.outcomes import Action, Resolution
from crmsync.errors import ApiProblem, ConnectorError, Rule, classify, error_for, transport_problem

_State = TypeVar("_State")

ProblemParser = Callable[[httpx.Response], ApiProblem]
"""Provider hook: turn an error response into an ApiProblem (code, message, retry_after)."""


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every client this process opens. Building one loads the whole CA
    bundle (measured: 21 ms, 41 % of a one-record run by bench/run_cost.py), and a runner
    opens a client per run."""
    return httpx.create_ssl_context()


class CallStats:
    """Counts of CRM responses by provider and status (for metrics and benchmarks); one per
    process, owned by its ``Runtime``, which hooks it on every CRM client it opens."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, int]] = Counter()

    def add(self, provider: str, status: int) -> None:
        with self._lock:
            self._counts[(provider, status)] += 1

    def snapshot(self) -> dict[tuple[str, int], int]:
        with self._lock:
            return dict(self._counts)

    def response_hook(self, provider: str) -> Callable[[httpx.Response], Awaitable[None]]:
        """An httpx ``response`` event hook counting every answer of one provider's client."""

        async def count(response: httpx.Response) -> None:
            self.add(provider, response.status_code)

        return count


JSON = "application/json"


class RateBudget:
    """Client-side pacing at the provider's published limit, as a rolling window.

    CRMs count requests in a rolling window ("110 per 10 s"), so a token bucket would burst
    past it; this keeps the send times of the last ``requests`` calls and waits until the
    oldest leaves the window. Sends are also spaced by ``window / requests`` (a cell-rate
    schedule): the same throughput, but without the burst-then-stall that would leave a live
    unlock waiting for most of a window behind a backfill (measured: p99 4.8 s at HubSpot's
    limit before this). After a quiet spell the first ``burst`` sends go at once: a run that
    makes three calls (owners, setup check, one batch) is not paced like a backfill
    (measured at 1,000 connections: one worker spent most of its time in those gaps).
    Thread-safe and free of event-loop state, so one budget serves every task that talks to
    the same CRM account from this process.
    """

    def __init__(
        self,
        limit: RateLimitSpec,
        clock: Callable[[], float] = time.monotonic,
        margin: float = 0.02,
    ) -> None:
        self.limit = limit
        self.window = limit.per_seconds * (1 + margin)
        self.gap = self.window / limit.requests
        self.burst = max(1, min(5, limit.requests // 10))
        self.due = 0.0
        """When the next send is due on an even schedule; up to ``burst - 1`` gaps early."""
        self.clock = clock
        self.sent: deque[float] = deque()
        self.blocked_until = 0.0
        self.lock = threading.Lock()

    def reserve(self) -> float:
        """Book one request; returns how long to wait before sending it."""
        return self._reserve()[1]

    def _reserve(self) -> tuple[float, float]:
        with self.lock:
            now = self.clock()
            start = max(now, self.blocked_until)
            while self.sent and self.sent[0] <= start - self.window:
                self.sent.popleft()
            if len(self.sent) >= self.limit.requests:
                start = max(start, self.sent[-self.limit.requests] + self.window)
            start = max(start, self.due - (self.burst - 1) * self.gap)
            self.due = max(self.due, start) + self.gap
            self.sent.append(start)
            return start, start - now

    def block_for(self, seconds: float) -> None:
        """The CRM said to wait (429): nobody sends until then."""
        with self.lock:
            self.blocked_until = max(self.blocked_until, self.clock() + seconds)

    def confirm(self, reserved: float) -> None:
        """Move a reservation to the moment the request really left: a sleep that overran
        would otherwise make the CRM see two requests closer together than we counted."""
        with self.lock:
            now = self.clock()
            if now <= reserved:
                return
            for index in range(len(self.sent) - 1, -1, -1):
                if self.sent[index] == reserved:
                    self.sent[index] = now
                    return

    async def acquire(self) -> None:
        reserved, wait = self._reserve()
        if wait > 0:
            await asyncio.sleep(wait)
        self.confirm(reserved)


class RateBudgets:
    """The budget of each CRM account this process talks to. CRMs count requests per
    account, so every client of one account (the connect-time setup as well as each sync
    run, in any thread) draws from one budget. Owned by the process's ``Runtime``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._budgets: dict[str, RateBudget] = {}

    def for_account(self, key: str, limit: RateLimitSpec) -> RateBudget:
        with self._lock:
            budget = self._budgets.get(key)
            if budget is None or budget.limit != limit:
                budget = self._budgets[key] = RateBudget(limit)
            return budget


class Allocations:
    """Per-account quota state beyond the rate budget (e.g. a CRM's daily API allocation, as
    its answers report it), one object of a kind per account. Owned by the process's
    ``Runtime``, so every connector of one account in this process shares it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_account: dict[tuple[type, str], object] = {}

    def for_account(self, key: str, kind: type[_State]) -> _State:
        """The account's ``kind``, made (with no arguments) the first time it is asked for."""
        with self._lock:
            found = self._by_account.get((kind, key))
            if not isinstance(found, kind):
                found = self._by_account[(kind, key)] = kind()
            return found


@dataclass
class RetryPolicy:
    """In-call retries for idempotent requests; the engine reschedules what still fails."""

    attempts: int = 4
    base_seconds: float = 0.5
    max_seconds: float = 30.0
    max_rate_limit_wait: float = 60.0

    def backoff(self, attempt: int) -> float:
        ceiling = min(self.max_seconds, self.base_seconds * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)


class ApiClient:
    """Sends one CRM request at a time through the budget, classifying every failure."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        spec: ProviderSpec,
        budget: RateBudget,
        parse_problem: ProblemParser,
        retry: RetryPolicy | None = None,
        on_response: Callable[[httpx.Response], None] | None = None,
    ) -> None:
        self.http = http
        self.spec = spec
        self.budget = budget
        self.parse_problem = parse_problem
        self.retry = retry or RetryPolicy()
        self.on_response = on_response
        self.calls = 0

    async def request(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool = True,
        accept: Mapping[int, bool] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send with pacing; retry 429s and transient errors when ``idempotent``.

        ``accept`` lists non-2xx statuses the caller handles itself (e.g. 207, 409).
        """
        if "json" in kwargs:  # encoded once, and faster than httpx's own encoding
            kwargs["content"] = jsoncodec.dumps_bytes(kwargs.pop("json"))
            kwargs["headers"] = {**(kwargs.get("headers") or {}), "Content-Type": JSON}
        attempt = 0
        while True:
            await self.budget.acquire()
            self.calls += 1
            try:
                response = await self.http.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                resolution = self.classify(transport_problem(exc))
                if (
                    resolution.action is Action.RETRY
                    and idempotent
                    and attempt + 1 < self.retry.attempts
                ):
                    attempt += 1
                    await asyncio.sleep(self.retry.backoff(attempt))
                    continue
                raise error_for(resolution) from exc
            if self.on_response is not None:
                self.on_response(response)
            if response.is_success or (accept and response.status_code in accept):
                return response
            resolution = self.resolve(response)
            if resolution.action is Action.RATE_LIMITED:
                wait = resolution.retry_after or self.retry.backoff(attempt)
                if wait <= self.retry.max_rate_limit_wait and attempt + 1 < self.retry.attempts * 4:
                    self.budget.block_for(wait)
                    attempt += 1
                    continue
                # A long pause (a daily allocation) is the engine's to schedule: blocking the
                # shared budget here would make later runs sleep inside acquire().
            elif (
                resolution.action is Action.RETRY
                and idempotent
                and attempt + 1 < self.retry.attempts
                and (resolution.retry_after or 0.0) <= self.retry.max_rate_limit_wait
            ):
                attempt += 1
                if resolution.retry_after:  # a 503 that names its wait: nobody sends before
                    self.budget.block_for(resolution.retry_after)
                await asyncio.sleep(self.retry.backoff(attempt))
                continue
            raise error_for(resolution)

    def resolve(self, response: httpx.Response) -> Resolution:
        return self.classify(self.parse_problem(response))

    def classify(self, problem: ApiProblem) -> Resolution:
        """Every failure of a call, an answer or none, by the provider's rules first."""
        return classify(problem, self.spec.error_rules)

    async def json(self, method: str, url: str, **kwargs: Any) -> Any:
        return (await self.request(method, url, **kwargs)).json()

    async def page(self, request: PageRequest) -> Any:
        """One page of a paginated call (``connectors.paging``): its decoded body."""
        if request.json is None:
            return await self.json(request.method, request.url, params=request.params)
        return await self.json(
            request.method, request.url, params=request.params, json=request.json
        )


def retry_after_header(response: httpx.Response, now: float | None = None) -> float | None:
    """Seconds the CRM asks us to wait (RFC 9110 ``Retry-After``): a number of seconds or an
    HTTP-date, whatever the status (429, and 503 too). A date in the past is no wait."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # an HTTP-date is GMT; a date without a zone is read as UTC
        moment = moment.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, moment.timestamp() - current)


async def call_guarded(factory: Callable[[], Awaitable[Any]], rules: Sequence[Rule] = ()) -> Any:
    """Run one connector coroutine, turning stray transport errors (a call that did not go
    through ``ApiClient``) into ConnectorErrors, by the provider's ``rules`` first."""
    try:
        return await factory()
    except ConnectorError:
        raise
    except httpx.TransportError as exc:
        raise error_for(classify(transport_problem(exc), rules)) from exc
