"""The OAuth callback refuses bad or replayed authorisations with a page saying why."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select, update

from crmsync.db.tables import Connection, OAuthState, utcnow
from tests.support.consent import consent
from tests.support.world import World

RowCounts = Callable[[], dict[str, int]]


def _start(w: World) -> tuple[str, str]:
    r = w.api.post("/api/v1/orgs/org1/connection", json={"provider": "hubspot"})
    assert r.status_code == 201, r.text
    url = r.json()["authorize_url"]
    return url, parse_qs(urlsplit(url).query)["state"][0]


def _callback(w: World, location: str) -> Any:
    parts = urlsplit(location)
    return w.api.get(f"{parts.path}?{parts.query}")


def _assert_refused(w: World, r: Any, reason: str) -> None:
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "Could not connect" in r.text
    assert reason in r.text
    with w.rt.db.session() as session:
        assert session.scalars(select(Connection)).all() == []


def test_callback_with_an_unknown_state_is_refused(team: World) -> None:
    r = team.api.get("/oauth/callback/hubspot?state=made-up&code=abc")
    _assert_refused(team, r, "unknown or already used authorisation state")


def test_callback_with_a_state_for_another_provider_is_refused(team: World) -> None:
    _url, state = _start(team)
    r = team.api.get(f"/oauth/callback/pipedrive?state={state}&code=abc")
    _assert_refused(team, r, "unknown or already used authorisation state")


def test_callback_when_access_is_denied_is_refused_and_the_state_spent(team: World) -> None:
    url, state = _start(team)
    location = asyncio.run(consent(team.router, url, decision="deny"))
    assert "error=access_denied" in location
    r = _callback(team, location)
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    said = "HubSpot was not connected: access for Acme was declined on HubSpot&#x27;s consent page."
    assert "Access was not granted" in r.text and said in r.text
    assert "access_denied" not in r.text.split("<script>")[0]  # words, not the raw code
    script = r.text.split("<script>")[1]
    assert '"denied": "1"' in script and "window.close();" in script  # back to the card
    with team.rt.db.session() as session:
        assert session.scalars(select(Connection)).all() == []
    again = team.api.get(f"/oauth/callback/hubspot?state={state}&code=abc")
    _assert_refused(team, again, "unknown or already used authorisation state")


def test_callback_with_an_expired_state_is_refused(team: World) -> None:
    url, _state = _start(team)
    location = asyncio.run(consent(team.router, url))
    with team.rt.db.session() as session:
        session.execute(update(OAuthState).values(expires_at=utcnow() - timedelta(seconds=1)))
    _assert_refused(team, _callback(team, location), "took too long and expired")


def test_a_reused_state_is_refused_and_creates_nothing_more(team: World, rows: RowCounts) -> None:
    url, _state = _start(team)
    location = asyncio.run(consent(team.router, url))
    assert _callback(team, location).status_code == 200
    before = rows()
    r = _callback(team, location)
    assert r.status_code == 422
    assert "unknown or already used authorisation state" in r.text
    assert rows() == before


def test_callback_error_text_cannot_break_out_of_the_page_script(team: World) -> None:
    _url, state = _start(team)
    evil = "</script><script>alert(1)</script>"
    r = team.api.get("/oauth/callback/hubspot", params={"state": state, "error": evil})
    assert r.status_code == 422
    assert "<script>alert(1)" not in r.text
