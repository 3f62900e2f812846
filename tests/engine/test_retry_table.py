"""One table decides what each outcome does, and a CRM's ``Retry-After`` is honoured on 503 as
well as 429, in both its forms (seconds and HTTP-date)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from crmsync.connectors.http import ApiClient, RateBudget, RetryPolicy, retry_after_header
from crmsync.connectors.spec import OAuthSpec, ProviderSpec, RateLimitSpec
from crmsync.domain.enums import ConnectionStatus, OpStatus
from crmsync.domain.outcomes import Action, Resolution
from crmsync.engine.retry import OUTCOMES, consequence, delay, gives_up
from crmsync.errors import ApiProblem, TransientError, error_for
from crmsync.providers.close.client import parse_problem as close_problem
from crmsync.providers.highlevel.client import parse_problem as highlevel_problem
from crmsync.providers.hubspot.client import parse_problem as hubspot_problem

NOW = 1_800_000_000.0
SPEC = ProviderSpec(
    name="test",
    display_name="Test",
    crm_object="Contact",
    record_label="contact",
    oauth=OAuthSpec("https://crm.test/authorize", "https://crm.test/token", ()),
    api_base="https://crm.test",
    rate_limit=RateLimitSpec(100, 10.0),
    batch_size=10,
)


def _unavailable(retry_after: str) -> httpx.Response:
    return httpx.Response(503, headers={"Retry-After": retry_after})


def test_every_action_has_a_row_in_the_table() -> None:
    assert set(OUTCOMES) == set(Action)


def test_the_table_says_what_counts_what_pauses_and_what_ends() -> None:
    assert consequence(Resolution(Action.RETRY, "")).counts_attempt
    assert not consequence(Resolution(Action.RATE_LIMITED, "")).counts_attempt
    assert not consequence(Resolution(Action.DEFER, "")).counts_attempt
    assert consequence(Resolution(Action.RECONNECT, "")).pause is ConnectionStatus.NEEDS_RECONNECT
    setup = consequence(Resolution(Action.SETUP_REQUIRED, ""))
    assert setup.pause is ConnectionStatus.SETUP_REQUIRED and not setup.counts_attempt
    assert consequence(Resolution(Action.FAIL, "")).final is OpStatus.FAILED
    assert consequence(Resolution(Action.SKIP, "")).final is OpStatus.SKIPPED
    assert gives_up(Resolution(Action.RETRY, ""), attempts=4, max_attempts=5)
    assert not gives_up(Resolution(Action.RATE_LIMITED, ""), attempts=40, max_attempts=5)


def test_setup_required_is_a_connector_error_the_table_pauses_on() -> None:
    error = error_for(Resolution(Action.SETUP_REQUIRED, "the Person ID field is missing"))
    assert error.resolution.action is Action.SETUP_REQUIRED
    assert str(error) == "the Person ID field is missing"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (format_datetime(datetime.fromtimestamp(NOW + 90, UTC), usegmt=True), 90.0),
        (format_datetime(datetime.fromtimestamp(NOW - 90, UTC), usegmt=True), 0.0),
        ("soon", None),
    ],
)
def test_retry_after_is_read_in_seconds_and_as_an_http_date(
    header: str, expected: float | None
) -> None:
    assert retry_after_header(_unavailable(header), now=NOW) == expected


@pytest.mark.parametrize("parse", [hubspot_problem, close_problem, highlevel_problem])
def test_every_provider_reads_the_wait_a_503_names(
    parse: Callable[[httpx.Response], ApiProblem],
) -> None:
    assert parse(_unavailable("45")).retry_after == 45.0


def test_the_engine_never_retries_sooner_than_a_503_asked() -> None:
    unavailable = Resolution(Action.RETRY, "server busy", retry_after=300.0)
    assert all(delay(0, 1.0, 60.0, unavailable) >= 300.0 for _ in range(50))
    plain = Resolution(Action.RETRY, "server error")
    assert all(0.5 <= delay(0, 1.0, 60.0, plain) <= 1.0 for _ in range(50))
    limited = Resolution(Action.RATE_LIMITED, "slow down", retry_after=7.0)
    assert delay(3, 1.0, 60.0, limited) == 7.0
    assert delay(3, 1.0, 60.0, Resolution(Action.DEFER, "held back")) == 0.0


def _client(responses: list[httpx.Response], budget: RateBudget) -> tuple[ApiClient, list[float]]:
    sent: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(time.time())
        return responses.pop(0)

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="https://crm.test")
    retry = RetryPolicy(attempts=4, base_seconds=0.0, max_seconds=0.0, max_rate_limit_wait=60.0)
    return ApiClient(http, SPEC, budget, hubspot_problem, retry), sent


def test_a_503_with_retry_after_waits_that_long_before_the_in_call_retry() -> None:
    budget = RateBudget(SPEC.rate_limit)
    moment = datetime.now(UTC) + timedelta(seconds=2)
    dated = format_datetime(moment, usegmt=True)  # in whole seconds: up to 1 s earlier
    client, sent = _client([_unavailable("1"), _unavailable(dated), httpx.Response(200)], budget)
    response = asyncio.run(client.request("GET", "/thing"))
    assert response.status_code == 200 and len(sent) == 3
    assert sent[1] - sent[0] >= 0.95, "the seconds form was not honoured"
    assert sent[2] >= int(moment.timestamp()) - 0.05, "the HTTP-date form was not honoured"


def test_a_503_asking_for_longer_than_a_call_may_wait_goes_back_to_the_engine() -> None:
    client, sent = _client([_unavailable("3600")], RateBudget(SPEC.rate_limit))
    with pytest.raises(TransientError) as raised:
        asyncio.run(client.request("GET", "/thing"))
    assert len(sent) == 1
    assert raised.value.resolution.retry_after == 3600.0
