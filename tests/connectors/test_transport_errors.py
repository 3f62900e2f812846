"""A call that gets no answer is classified like one that does: the provider's own
``error_rules`` first, then the shared table, by the client and by ``call_guarded`` alike."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest

from crmsync.connectors.http import ApiClient, RateBudget, RetryPolicy, call_guarded
from crmsync.connectors.spec import OAuthSpec, ProviderSpec, RateLimitSpec
from crmsync.domain.outcomes import Action
from crmsync.errors import ApiProblem, RecordRejected, Rule, TransientError

LANDED = "the create may have landed: search for it before sending it again"
SPEC = ProviderSpec(
    name="test",
    display_name="Test",
    crm_object="Contact",
    record_label="contact",
    oauth=OAuthSpec("https://crm.test/authorize", "https://crm.test/token", ()),
    api_base="https://crm.test",
    rate_limit=RateLimitSpec(100, 10.0),
    batch_size=10,
    error_rules=(
        Rule(Action.RETRY, LANDED, exception=httpx.ReadTimeout),
        Rule(Action.FAIL, "the CRM's host does not exist", exception=httpx.ConnectError),
    ),
)
GENERIC = dataclasses.replace(SPEC, error_rules=())


def _client(spec: ProviderSpec, failures: list[Exception]) -> tuple[ApiClient, list[str]]:
    """A client whose first calls raise ``failures`` in turn; later calls answer 200."""
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.method)
        if failures:
            raise failures.pop(0)
        return httpx.Response(200, json={})

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="https://crm.test")
    retry = RetryPolicy(attempts=4, base_seconds=0.0, max_seconds=0.0)
    return ApiClient(http, spec, RateBudget(spec.rate_limit), _no_problem, retry), sent


def _no_problem(response: httpx.Response) -> ApiProblem:
    return ApiProblem(response.status_code)


def test_a_read_timeout_on_a_create_is_resolved_by_the_providers_rule() -> None:
    client, sent = _client(SPEC, [httpx.ReadTimeout("timed out")])
    with pytest.raises(TransientError) as raised:
        asyncio.run(client.request("POST", "/contacts", idempotent=False, json={}))
    assert raised.value.resolution.reason == f"{LANDED}: timed out"
    assert sent == ["POST"], "a create that may have landed is not sent again in the call"


def test_without_a_provider_rule_the_shared_table_names_the_timeout() -> None:
    client, _sent = _client(GENERIC, [httpx.ReadTimeout("timed out")])
    with pytest.raises(TransientError) as raised:
        asyncio.run(client.request("POST", "/contacts", idempotent=False, json={}))
    assert raised.value.resolution.reason == "the CRM did not answer in time: timed out"


def test_a_transport_error_the_provider_calls_final_is_not_retried_in_the_call() -> None:
    client, sent = _client(SPEC, [httpx.ConnectError("name not known")])
    with pytest.raises(RecordRejected) as raised:
        asyncio.run(client.request("GET", "/contacts"))
    assert raised.value.resolution.action is Action.FAIL
    assert raised.value.resolution.reason == "the CRM's host does not exist: name not known"
    assert sent == ["GET"]


def test_an_idempotent_call_is_retried_after_a_transient_transport_error() -> None:
    client, sent = _client(GENERIC, [httpx.ConnectError("reset"), httpx.ReadTimeout("slow")])
    response = asyncio.run(client.request("GET", "/contacts"))
    assert response.status_code == 200 and sent == ["GET", "GET", "GET"]


def test_a_stray_transport_error_is_classified_by_the_rules_given_to_call_guarded() -> None:
    async def stray() -> None:
        raise httpx.ReadTimeout("timed out")

    with pytest.raises(TransientError) as raised:
        asyncio.run(call_guarded(stray, SPEC.error_rules))
    assert raised.value.resolution.reason == f"{LANDED}: timed out"
    with pytest.raises(TransientError) as generic:
        asyncio.run(call_guarded(stray))
    assert generic.value.resolution.reason == "the CRM did not answer in time: timed out"
