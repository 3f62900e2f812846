"""OAuth, as crmsync drives it, for every provider: the state is crmsync's own, random and
bound to the org (and, from the admin UI, to the browser session); PKCE (S256) wherever the
CRM's spec allows it; the redirect URI is always exactly the configured one.

The callback's refusals (unknown, spent, expired, foreign-session states) are in
tests/api/test_oauth_callback.py, tests/web/test_web_server.py and
tests/web/test_web_isolation.py; these tests pin what goes out to the CRM.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from crmsync.db.tables import Connection, OAuthState, naive_utc, utcnow
from crmsync.providers.catalog import BUILTIN
from crmsync.services.connections import STATE_TTL
from tests.support.consent import consent
from tests.support.world import World, world

# Whether each CRM's OAuth documents PKCE. A new provider must be added here on purpose.
PKCE = {"hubspot": True, "salesforce": True, "close": False, "highlevel": False}
PUBLIC_URL = "http://crmsync.test"


@pytest.fixture(params=sorted(p.name for p in BUILTIN))
def w(request: pytest.FixtureRequest, sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    with world(sqlite_url, tmp_path, request.param) as instance:
        instance.org("org1", {"u-admin": "admin@acme.test"})
        instance.org("org2", {"u-other": "other@beta.test"})
        yield instance


def _start(w: World, org: str = "org1", **headers: str) -> tuple[str, dict[str, list[str]]]:
    r = w.api.post(f"/api/v1/orgs/{org}/connection", json={"provider": w.provider}, headers=headers)
    assert r.status_code == 201, r.text
    url: str = r.json()["authorize_url"]
    return url, parse_qs(urlsplit(url).query)


def _pending(w: World, state: str) -> OAuthState:
    with w.rt.db.session() as session:
        row = session.get_one(OAuthState, state)
        session.expunge(row)
        return row


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _callback(w: World, location: str) -> Any:
    parts = urlsplit(location)
    return w.api.get(f"{parts.path}?{parts.query}")


def test_every_provider_says_whether_it_allows_pkce(w: World) -> None:
    assert w.provider in PKCE, f"does {w.provider}'s OAuth allow PKCE? record it in PKCE"
    assert w.rt.spec(w.provider).oauth.pkce is PKCE[w.provider]


def test_the_authorize_url_has_the_exact_redirect_uri_a_bound_state_and_pkce(w: World) -> None:
    spoofed = {"host": "evil.example", "x-forwarded-host": "evil.example"}
    url, query = _start(w, "org1", **spoofed)
    spec = w.rt.spec(w.provider)
    expected = urlsplit(spec.oauth.authorize_url)
    assert (urlsplit(url).netloc, urlsplit(url).path) == (expected.netloc, expected.path)
    # The redirect URI comes from settings, never from the request's Host headers.
    assert query["redirect_uri"] == [f"{PUBLIC_URL}/oauth/callback/{w.provider}"]
    assert query["response_type"] == ["code"]
    [state] = query["state"]
    assert len(state) >= 43  # secrets.token_urlsafe(32): 256 random bits
    pending = _pending(w, state)
    assert (pending.org_id, pending.provider, pending.purpose) == ("org1", w.provider, "connect")
    assert pending.session_binding is None  # started by the host API, not a browser
    lifetime = naive_utc(pending.expires_at) - naive_utc(utcnow())
    assert timedelta(0) < lifetime <= STATE_TTL <= timedelta(minutes=15)
    if PKCE[w.provider]:
        verifier = pending.code_verifier
        assert verifier is not None and len(verifier) >= 43
        assert query["code_challenge_method"] == ["S256"]
        assert query["code_challenge"] == [_challenge(verifier)]
        assert verifier not in url
    else:
        assert pending.code_verifier is None
        assert "code_challenge" not in query and "code_challenge_method" not in query
    _other_url, again = _start(w, "org2")
    assert again["state"] != query["state"]
    if PKCE[w.provider]:
        assert again["code_challenge"] != query["code_challenge"]


def test_the_token_exchange_sends_the_same_redirect_uri_and_the_verifier(w: World) -> None:
    token_url = urlsplit(w.rt.spec(w.provider).oauth.token_url)
    sent: list[dict[str, list[str]]] = []
    forward = w.router.handle_async_request

    async def record(request: httpx.Request) -> httpx.Response:
        if (request.url.host, request.url.path) == (token_url.hostname, token_url.path):
            body = (await request.aread()).decode()
            sent.append(parse_qs(body))
        return await forward(request)

    w.router.handle_async_request = record  # type: ignore[method-assign]
    url, query = _start(w, "org2")
    pending = _pending(w, query["state"][0])
    location = asyncio.run(consent(w.router, url, w.harness.consent_choices))
    assert urlsplit(location).netloc == urlsplit(PUBLIC_URL).netloc
    r = _callback(w, location)
    assert r.status_code == 200, r.text
    [exchange] = [form for form in sent if form.get("grant_type") == ["authorization_code"]]
    assert exchange["redirect_uri"] == [f"{PUBLIC_URL}/oauth/callback/{w.provider}"]
    if PKCE[w.provider]:
        assert exchange["code_verifier"] == [pending.code_verifier]
    else:
        assert "code_verifier" not in exchange
    # The state named org2, so org2 is what got connected; org1 did not.
    with w.rt.db.session() as session:
        orgs = [c.org_id for c in session.scalars(select(Connection))]
    assert orgs == ["org2"]


def test_a_code_redeemed_without_its_verifier_connects_nothing(w: World) -> None:
    """PKCE binds the code to the browser that started: with another verifier (as an attacker
    who intercepted the code would have), the CRM refuses it, and the state is spent."""
    if not PKCE[w.provider]:
        pytest.skip(f"{w.provider}'s OAuth has no PKCE")
    url, query = _start(w)
    location = asyncio.run(consent(w.router, url, w.harness.consent_choices))
    with w.rt.db.session() as session:
        session.execute(
            update(OAuthState)
            .where(OAuthState.state == query["state"][0])
            .values(code_verifier="x" * 64)
        )
    r = _callback(w, location)
    assert 400 <= r.status_code < 500 and "Could not connect" in r.text, r.text
    with w.rt.db.session() as session:
        assert session.scalars(select(Connection)).all() == []
    assert _pending(w, query["state"][0]).consumed_at is not None


def test_the_verifier_is_dropped_once_the_state_is_used(w: World) -> None:
    """Spent, the state keeps no secret: the verifier is gone whether the callback connected
    (org1) or was refused (org2, the CRM said the admin declined)."""
    url, query = _start(w, "org1")
    _refused_url, refused = _start(w, "org2")
    location = asyncio.run(consent(w.router, url, w.harness.consent_choices))
    assert _callback(w, location).status_code == 200
    r = w.api.get(f"/oauth/callback/{w.provider}?state={refused['state'][0]}&error=access_denied")
    assert r.status_code == 422, r.text
    for state in (query["state"][0], refused["state"][0]):
        pending = _pending(w, state)
        assert pending.consumed_at is not None
        assert pending.code_verifier is None


def test_states_long_expired_are_deleted_when_an_authorisation_starts(w: World) -> None:
    """States are kept a day past their expiry (a late callback is told it expired, not that
    the state is unknown), then deleted: the table does not grow with every attempt."""
    _url, old = _start(w, "org1")
    _url, recent = _start(w, "org2")
    with w.rt.db.session() as session:
        for state, ago in ((old, timedelta(days=1, minutes=1)), (recent, timedelta(hours=23))):
            session.execute(
                update(OAuthState)
                .where(OAuthState.state == state["state"][0])
                .values(expires_at=utcnow() - ago)
            )
    _url, fresh = _start(w, "org1")
    with w.rt.db.session() as session:
        kept = set(session.scalars(select(OAuthState.state)))
    assert kept == {recent["state"][0], fresh["state"][0]}
