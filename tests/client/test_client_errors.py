"""A refused request raises the ``CrmsyncError`` for its status, with the API's message;
the real app answers the 4xx, a mock transport the statuses the app cannot be made to send."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from crmsync.client import (
    AsyncClient,
    Client,
    ClientError,
    Conflict,
    CrmFailed,
    CrmsyncError,
    FieldIssue,
    InvalidInput,
    NotFound,
    Person,
    RateLimited,
    ServerError,
    Unauthorized,
    Unavailable,
)
from crmsync.db.tables import Person as PersonRow
from tests.client.conftest import async_client
from tests.support.world import World


def test_an_unknown_org_is_not_found_with_the_api_message(client: Client) -> None:
    with pytest.raises(NotFound) as caught:
        client.get_connection("nope")
    assert isinstance(caught.value, ClientError)
    assert (caught.value.status_code, caught.value.message) == (
        404,
        "organisation 'nope' does not exist",
    )


def test_an_org_created_twice_is_a_conflict(client: Client) -> None:
    client.create_org("Acme", id="acme")
    with pytest.raises(Conflict) as caught:
        client.create_org("Acme again", id="acme")
    assert caught.value.status_code == 409
    assert caught.value.message == "organisation 'acme' already exists"


def test_invalid_fields_are_named_in_the_message_and_nothing_is_written(
    w: World, client: Client
) -> None:
    with pytest.raises(InvalidInput) as caught:
        client.put_people({"p1": Person(first_name="Ada"), "p2": Person(emails=["not-an-email"])})
    error = caught.value
    assert error.status_code == 422
    [issue] = error.issues
    assert issue.loc == ("body", 1, "emails")
    assert "not an email address: 'not-an-email'" in issue.msg
    assert error.message == str(issue) and error.message.startswith("body.1.emails: ")
    with w.rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(PersonRow)) == 0


def test_a_refusal_in_words_is_the_message_of_a_422(w: World, client: Client) -> None:
    client.create_org("Acme", id="org1")
    w.authorize(client.connect("org1", "hubspot").authorize_url)
    with pytest.raises(InvalidInput) as caught:
        client.update_connection("org1", settings={"converted_leads": "skip"})
    assert caught.value.message == "HubSpot has no connection settings to change"
    assert caught.value.issues == ()
    assert client.get_connection("org1").settings.get("converted_leads") is None


def test_a_wrong_key_is_unauthorized(app: FastAPI) -> None:
    with TestClient(app) as http, pytest.raises(Unauthorized) as caught:
        Client(http=http, api_key="not-the-key").create_org("Acme")
    assert caught.value.message == "invalid host API key"


def test_a_path_parameter_stays_one_segment(w: World, client: Client) -> None:
    client.put_person("ada:1@example.com", Person(first_name="Ada"))
    with w.rt.db.session() as session:
        assert session.get(PersonRow, "ada:1@example.com") is not None
    for org_id in ("..", "a?b=c", "a#b", "100%"):
        with pytest.raises(NotFound) as caught:
            client.get_connection(org_id)
        assert caught.value.message == f"organisation {org_id!r} does not exist"
    with pytest.raises(ValueError, match="cannot contain '/'"):
        client.get_connection("org1/users")


def test_the_async_client_raises_the_same_errors(app: FastAPI) -> None:
    async def main() -> None:
        async with async_client(app) as crmsync:
            await crmsync.create_org("Acme", id="acme")
            with pytest.raises(Conflict):
                await crmsync.create_org("Acme", id="acme")
            with pytest.raises(NotFound, match="organisation 'nope' does not exist"):
                await crmsync.disconnect("nope")

    asyncio.run(main())


def _answering(response: httpx.Response) -> Client:
    http = httpx.Client(
        transport=httpx.MockTransport(lambda _request: response), base_url="http://x"
    )
    return Client(http=http, api_key="k")


def test_a_429_says_how_long_to_wait_in_seconds_or_as_a_date() -> None:
    refusal = {"detail": "slow down"}
    with pytest.raises(RateLimited) as caught:
        _answering(httpx.Response(429, json=refusal, headers={"Retry-After": "7"})).health()
    assert (caught.value.retry_after, caught.value.message) == (7.0, "slow down")
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    with pytest.raises(RateLimited) as caught:
        _answering(httpx.Response(429, json=refusal, headers={"Retry-After": later})).health()
    assert caught.value.retry_after is not None and 100 < caught.value.retry_after <= 120
    with pytest.raises(RateLimited) as caught:
        _answering(httpx.Response(429, json=refusal)).health()
    assert caught.value.retry_after is None


@pytest.mark.parametrize(
    ("status", "kind"), [(502, CrmFailed), (503, Unavailable), (500, ServerError)]
)
def test_5xx_are_server_errors(status: int, kind: type[CrmsyncError]) -> None:
    with pytest.raises(kind) as caught:
        _answering(httpx.Response(status, json={"detail": "the CRM call failed: boom"})).health()
    assert isinstance(caught.value, ServerError)
    assert caught.value.message == "the CRM call failed: boom"


def test_an_answer_that_is_not_json_keeps_its_text() -> None:
    with pytest.raises(ServerError) as caught:
        _answering(httpx.Response(504, text="<html>gateway timeout</html>")).health()
    assert caught.value.status_code == 504
    assert caught.value.message == "<html>gateway timeout</html>"


def test_each_request_carries_the_key_and_no_other_call_does() -> None:
    seen: list[tuple[str, str | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers.get("authorization")))
        return httpx.Response(200, json={"status": "ok", "id": "o", "name": "n"})

    http = httpx.Client(transport=httpx.MockTransport(answer), base_url="http://x")
    crmsync = Client(http=http, api_key="the-key")
    crmsync.create_org("n")
    crmsync.health()
    assert seen == [("/api/v1/orgs", "Bearer the-key"), ("/healthz", None)]


def test_a_client_needs_a_base_url_or_an_http_client() -> None:
    with pytest.raises(ValueError, match="give exactly one of base_url and http"):
        Client(api_key="k")
    with pytest.raises(ValueError, match="give exactly one of base_url and http"):
        AsyncClient("http://x", api_key="k", http=httpx.AsyncClient())


def test_field_issues_read_as_where_and_why() -> None:
    assert str(FieldIssue(("body", "emails", 0), "bad", "value_error")) == "body.emails.0: bad"
