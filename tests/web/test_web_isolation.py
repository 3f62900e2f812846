"""Tenant isolation of the admin UI: every route of the web app, two organisations.

Orgs A and B each have an admin and a member, and both sync through a HubSpot connection: A
syncs its own person and one both orgs share; B syncs its own person (with recognisable
details), the shared one and a person whose write failed. Then, for every page and action the
web app has:

* signed out, pages and actions send the browser to the sign-in page and write nothing;
* A's admin and member, handed B's objects (operation ids, person ids) in paths and queries,
  see none of B's data and change nothing;
* A's admin acting on A's own integration (disconnect, options, setup, retries) leaves
  every row of B as it was;
* a member's POSTs are refused (403) and write nothing;
* B's OAuth state, opened in A's browser session, is refused and stays usable for B.

The routes are read from the application itself: a new page fails
``test_every_web_route_is_classified`` until it is classified here, so it cannot slip past
the matrix.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import fastapi.routing
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Table, select

from crmsync.db.tables import Base, Connection, OAuthState
from tests.support.consent import consent
from tests.support.world import World, world

PASSWORD = "a long passphrase"

# What each web route is. PUBLIC: no session needed and no organisation data. PAGE: any
# signed-in user of the organisation, showing that organisation only. ADMIN: changes state;
# the organisation's admins only. SESSION: acts on the browser session only.
PUBLIC, PAGE, ADMIN, SESSION = "public", "page", "admin", "session"
WEB_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/"): PUBLIC,
    ("GET", "/signin"): PUBLIC,
    ("POST", "/signin"): PUBLIC,
    ("POST", "/signout"): SESSION,
    ("GET", "/static/{path}"): PUBLIC,
    ("GET", "/settings/integrations/logos/{provider}.svg"): PUBLIC,
    ("GET", "/settings/integrations"): PAGE,
    ("GET", "/settings/integrations/status"): PAGE,
    ("GET", "/settings/logs"): PAGE,
    ("GET", "/settings/people"): PAGE,
    ("GET", "/settings/people/{person_id}"): PAGE,
    ("POST", "/settings/integrations/{provider}/connect"): ADMIN,
    ("POST", "/settings/integrations/reconnect"): ADMIN,
    ("POST", "/settings/integrations/preserve-edits"): ADMIN,
    ("POST", "/settings/integrations/push"): ADMIN,
    ("POST", "/settings/integrations/disconnect"): ADMIN,
    ("POST", "/settings/integrations/setup"): ADMIN,
    ("POST", "/settings/integrations/interval"): ADMIN,
    ("POST", "/settings/integrations/sync"): ADMIN,
    ("POST", "/settings/integrations/modes"): ADMIN,
    ("POST", "/settings/integrations/push-triggers"): ADMIN,
    ("POST", "/settings/integrations/conversations"): ADMIN,
    ("GET", "/settings/integrations/test"): PAGE,
    # A preview writes nothing: any signed-in user of the organisation may ask for one.
    ("POST", "/settings/integrations/test/preview"): PAGE,
    ("POST", "/settings/integrations/test/run"): ADMIN,
    ("GET", "/settings/integrations/mappings"): PAGE,
    ("POST", "/settings/integrations/mappings"): ADMIN,
    ("POST", "/settings/integrations/mappings/refresh"): ADMIN,
    ("POST", "/settings/logs/retry-failed"): ADMIN,
    ("POST", "/settings/logs/{operation_id}/retry"): ADMIN,
    ("POST", "/settings/people/{person_id}/sync"): ADMIN,
}
# FastAPI's own documentation routes, which are not the admin UI.
FRAMEWORK = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}

# Every form field any action reads, switched on: an action that honoured a field naming
# another organisation's object would show up as a write.
FORM = {
    "preserve_manual_edits": "on",
    "push_enabled": "on",
    "create_missing_fields": "on",
    "skip_backfill": "on",
    "back": "/settings/logs",
    "import_mode": "create_new",
    "export_mode": "match_existing_import_new",
    "push_score_threshold": "10",
    "push_on_unlock": "on",
    "conversations_enabled": "on",
}
# What B's data looks like in a page: none of it may reach A's users.
B_MARKERS = ("Bravosecret", "bravo-secret@", "Bravo Secret Co", "Bravo Org", "@bravo.test")


def web_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app answers that is not in the REST API's OpenAPI schema."""
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)  # FastAPI >= 0.13x
    routes = list(flatten(app.routes)) if flatten else list(app.routes)
    api = {(method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops}
    found: set[tuple[str, str]] = set()
    for route in routes:
        path: str = getattr(route, "path", "")
        if path in FRAMEWORK:
            continue
        methods: set[str] | None = getattr(route, "methods", None)
        if methods is None:  # a mount (static files)
            found.add(("GET", f"{path}/{{path}}"))
            continue
        found |= {(m, path) for m in methods if m != "HEAD"}
    return found - api


# -- the two organisations ------------------------------------------------------------------
@dataclass
class Two:
    w: World
    b_ops: list[int] = field(default_factory=list)
    b_failed: int = 0
    a_ops: list[int] = field(default_factory=list)
    b_state_url: str = ""
    b_admin: TestClient | None = None

    @property
    def app(self) -> FastAPI:
        return cast(FastAPI, self.w.api.app)


@pytest.fixture
def two(db_url: str, tmp_path: Path) -> Iterator[Two]:
    with world(db_url, tmp_path, "hubspot") as w:
        assert w.api.post("/api/v1/orgs", json={"id": "org1", "name": "Alpha Org"}).is_success
        assert w.api.post("/api/v1/orgs", json={"id": "org2", "name": "Bravo Org"}).is_success
        for user_id, org, email, role in (
            ("a-admin", "org1", "admin@alpha.test", "admin"),
            ("a-member", "org1", "member@alpha.test", "member"),
            ("b-admin", "org2", "admin@bravo.test", "admin"),
            ("b-member", "org2", "member@bravo.test", "member"),
        ):
            body = {"id": user_id, "email": email, "role": role, "password": PASSWORD}
            r = w.api.post(f"/api/v1/orgs/{org}/users", json=body)
            assert r.status_code == 201, r.text
        w.connect("org1")
        w.connect("org2")
        w.harness.create_by_hand({"first_name": "Hand", "last_name": "Made", "email": "dup@x.test"})
        w.person("pa-only", first_name="Alphaname")
        w.person("shared")
        w.person(
            "pb-only",
            first_name="Bravosecret",
            emails=["bravo-secret@example.com"],
            company="Bravo Secret Co",
        )
        w.person("pb-dup", emails=["dup@x.test"])  # its insert fails: a duplicate email
        w.unlock("org1", "pa-only", "a-admin")
        w.unlock("org1", "shared", "a-member")
        for pid in ("pb-only", "shared", "pb-dup"):
            w.unlock("org2", pid, "b-admin")
        w.drain()
        two = Two(w)
        two.a_ops = [op["id"] for op in w.operations("org1")]
        two.b_ops = [op["id"] for op in w.operations("org2")]
        [failed] = w.operations("org2", status="failed")
        two.b_failed = failed["id"]
        # B's admin starts reconnecting from B's browser: a pending state bound to that session.
        b_admin, token = signed_in(w, "admin@bravo.test")
        r = b_admin.post(
            "/settings/integrations/reconnect",
            headers={"X-CSRF-Token": token, "X-Requested-With": "fetch"},
        )
        assert r.status_code == 200, r.text
        two.b_state_url = r.json()["authorize_url"]
        two.b_admin = b_admin
        yield two


def browser(w: World) -> TestClient:
    """A client with its own cookie jar and no host API key: a browser."""
    return TestClient(w.api.app, follow_redirects=False)


def page_csrf(client: TestClient, path: str) -> str:
    page = client.get(path)
    match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def signed_in(w: World, email: str) -> tuple[TestClient, str]:
    client = browser(w)
    token = page_csrf(client, "/signin")
    r = client.post("/signin", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 303, r.text
    return client, page_csrf(client, "/settings/integrations")


def snapshot(w: World, org: str | None = None) -> dict[str, tuple[int, str]]:
    """Per table: row count and a digest of the rows; with ``org``, only that org's rows."""
    found: dict[str, tuple[int, str]] = {}
    with w.rt.db.engine.connect() as conn:
        connections = [
            cid for (cid,) in conn.execute(select(Connection.id).where(Connection.org_id == org))
        ]
        for table in Base.metadata.sorted_tables:
            query: Any = _owned_by(table, org, connections) if org else select(table)
            if query is None:
                continue
            rows = sorted(repr(tuple(row)) for row in conn.execute(query))
            found[table.name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return found


def _owned_by(table: Table, org: str, connections: list[str]) -> Any:
    """An org's rows of a table, or None for tables shared by every org (people, api keys)."""
    if table.name == "orgs":
        return select(table).where(table.c.id == org)
    if "org_id" in table.c:
        return select(table).where(table.c.org_id == org)
    if "connection_id" in table.c:
        return select(table).where(table.c.connection_id.in_(connections))
    if "object_mapping_id" in table.c:
        mappings = Base.metadata.tables["object_mappings"]
        owned = select(mappings.c.id).where(mappings.c.connection_id.in_(connections))
        return select(table).where(table.c.object_mapping_id.in_(owned))
    return None


def test_org_rows_cover_every_table_with_org_data(two: Two) -> None:
    """Guards ``snapshot(w, org)``: only host-wide tables may be left out of an org's rows."""
    skipped = {t.name for t in Base.metadata.sorted_tables if _owned_by(t, "org2", []) is None}
    assert skipped <= {"people", "api_keys"}, skipped


def concrete(method: str, path: str, two: Two, org: str = "org2") -> list[str]:
    """The route's path filled with the org's objects (by default B's, every one of them),
    plus, for pages, the queries that name B's objects."""
    values: dict[str, list[str]] = {
        "provider": ["hubspot"],
        "operation_id": [str(op) for op in (two.b_ops if org == "org2" else two.a_ops)],
        "person_id": ["pb-only", "pb-dup"] if org == "org2" else ["pa-only", "shared"],
        "path": ["app.js"],
    }
    urls = [path]
    for name in re.findall(r"{(\w+)}", path):
        assert name in values, f"{method} {path}: which of B's objects goes in {{{name}}}?"
        urls = [u.replace(f"{{{name}}}", v) for u in urls for v in values[name]]
    if method == "GET":
        queries = [
            "person=pb-only",
            "person=pb-dup",
            "status=failed",
            f"before={max(two.b_ops) + 1}",
            f"after={max(1, min(two.b_ops) - 1)}",
            f"connection={two.w.connection('org2').id}",  # B's connection, by its id
        ]
        urls += [f"{u}?{q}" for u in list(urls) for q in queries]
    return urls


def leaks(text: str, two: Two) -> list[str]:
    found = [m for m in B_MARKERS if m in text]
    found += [f"op-{op}" for op in two.b_ops if f'id="op-{op}"' in text]
    found += [f"retry {op}" for op in two.b_ops if f"/settings/logs/{op}/retry" in text]
    return found


# -- the routes -----------------------------------------------------------------------------
def test_every_web_route_is_classified(two: Two) -> None:
    found = web_routes(two.app)
    unclassified = sorted(found - set(WEB_ROUTES))
    assert not unclassified, f"classify these web routes in WEB_ROUTES: {unclassified}"
    gone = sorted(set(WEB_ROUTES) - found)
    assert not gone, f"no longer routes of the web app: {gone}"


def _landing(client: TestClient, response: Any) -> Any:
    """Follows same-site redirects (at most 3) to the page the browser ends on."""
    for _ in range(3):
        if response.status_code not in (302, 303, 307):
            break
        response = client.get(response.headers["location"])
    return response


def test_signed_out_requests_go_to_sign_in_and_write_nothing(two: Two) -> None:
    w = two.w
    anonymous = browser(w)
    token = page_csrf(anonymous, "/signin")  # an anonymous session's valid CSRF token
    before = snapshot(w)
    problems: list[str] = []
    for (method, path), kind in sorted(WEB_ROUTES.items()):
        if kind in (PUBLIC, SESSION):
            continue
        for url in concrete(method, path, two):
            if method == "GET":
                r = anonymous.get(url)
                landed = _landing(anonymous, r)
                if r.status_code != 303 or landed.url.path != "/signin":
                    problems.append(f"GET {url}: {r.status_code}, ended on {landed.url}")
                fetch = anonymous.get(url, headers={"X-Requested-With": "fetch"})
                if fetch.status_code != 401 and _landing(anonymous, fetch).url.path != "/signin":
                    problems.append(f"GET {url} (fetch): {fetch.status_code}")
                continue
            r = anonymous.post(url, data={**FORM, "csrf_token": token})
            if r.status_code != 303 or not r.headers["location"].startswith("/signin"):
                problems.append(f"POST {url}: {r.status_code} {r.headers.get('location')}")
            r = anonymous.post(url, headers={"X-CSRF-Token": token, "X-Requested-With": "fetch"})
            if r.status_code != 401:
                problems.append(f"POST {url} (fetch): {r.status_code}")
            if anonymous.post(url, data=FORM).status_code != 403:  # and no CSRF token
                problems.append(f"POST {url} without a CSRF token was not refused")
            if leaks(r.text, two):
                problems.append(f"POST {url} showed {leaks(r.text, two)}")
    assert not problems, "\n".join(problems)
    assert snapshot(w) == before


@pytest.mark.parametrize("email", ["admin@alpha.test", "member@alpha.test"])
def test_a_sees_none_of_bs_data_on_any_page(two: Two, email: str) -> None:
    w = two.w
    client, _ = signed_in(w, email)
    before = snapshot(w)
    problems: list[str] = []
    for (method, path), _kind in sorted(WEB_ROUTES.items()):
        if method != "GET":
            continue
        for url in concrete(method, path, two):
            for headers in ({}, {"X-Requested-With": "fetch"}):
                r = _landing(client, client.get(url, headers=headers))
                if r.status_code >= 500:
                    problems.append(f"GET {url}: {r.status_code}")
                if found := leaks(r.text, two):
                    problems.append(f"GET {url} ({r.status_code}) showed {found}")
    for person in ("pb-only", "pb-dup"):  # B's people do not exist for A
        r = client.get(f"/settings/people/{person}")
        if r.status_code != 404:
            problems.append(f"GET /settings/people/{person}: {r.status_code}, not 404")
    assert not problems, "\n".join(problems)
    assert snapshot(w) == before
    # A's own data is there, so the checks above looked at real pages.
    logs = client.get("/settings/logs").text
    assert all(f'id="op-{op}"' in logs for op in two.a_ops)
    assert "Alphaname" in client.get("/settings/people/pa-only").text


@pytest.mark.parametrize("email", ["admin@alpha.test", "member@alpha.test"])
def test_a_cannot_act_on_bs_objects(two: Two, email: str) -> None:
    """Every action whose path names an object, given each of B's: refused, nothing written.
    A form post answers 403, or sends the admin back with the reason (404's words)."""
    w = two.w
    client, token = signed_in(w, email)
    problems: list[str] = []
    checked = 0
    for (method, path), kind in sorted(WEB_ROUTES.items()):
        if method != "POST" or kind != ADMIN or not re.search(r"{(?!provider)\w+}", path):
            continue
        for url in concrete(method, path, two):
            before = snapshot(w)
            r = client.post(url, data={**FORM, "csrf_token": token})
            if r.status_code == 303:
                shown = _landing(client, r).text
                if "does not exist in organisation" not in shown:
                    problems.append(f"POST {url}: 303 without saying it does not exist")
            elif r.status_code not in (403, 404):
                problems.append(f"POST {url}: {r.status_code}")
            fetch = {"X-CSRF-Token": token, "X-Requested-With": "fetch"}
            r = client.post(url, headers=fetch)
            if r.status_code not in (303, 403, 404):
                problems.append(f"POST {url} (fetch): {r.status_code}")
            if snapshot(w) != before:
                problems.append(f"POST {url} wrote {_changed(before, snapshot(w))}")
            checked += 1
    assert not problems, "\n".join(problems)
    assert checked >= len(two.b_ops)
    # The same retry from B's own admin is accepted: A was refused for being A.
    b_admin, b_token = signed_in(w, "admin@bravo.test")
    r = b_admin.post(f"/settings/logs/{two.b_failed}/retry", data={"csrf_token": b_token})
    assert r.status_code == 303
    assert "queued for retry" in _landing(b_admin, r).text


def _changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(t for t in after if after[t] != before.get(t))


def test_as_admin_actions_leave_b_untouched(two: Two) -> None:
    """A's admin runs every action of the app on A's integration; B's rows do not move."""
    w = two.w
    client, token = signed_in(w, "admin@alpha.test")
    b_before = snapshot(w, "org2")
    a_before = snapshot(w, "org1")
    fetch = {"X-CSRF-Token": token, "X-Requested-With": "fetch"}
    order = [  # disconnect last, so the others act on a live connection
        (m, p) for (m, p), kind in sorted(WEB_ROUTES.items()) if m == "POST" and kind == ADMIN
    ]
    order.sort(key=lambda route: route[1].endswith("/disconnect"))
    for method, path in order:
        for url in concrete(method, path, two, "org1"):
            client.post(url, data={**FORM, "csrf_token": token})
            client.post(url, headers=fetch)
            assert snapshot(w, "org2") == b_before, f"{method} {url} changed B's rows"
    assert snapshot(w, "org1") != a_before  # A's actions did act on A
    status = w.status("org2")
    assert status["status"] == "connected" and status["preserve_manual_edits"] is False
    assert w.connection("org1").status == "disconnected"


def test_a_members_posts_are_403_and_write_nothing(two: Two) -> None:
    w = two.w
    member, token = signed_in(w, "member@alpha.test")
    before = snapshot(w)
    problems: list[str] = []
    for (method, path), kind in sorted(WEB_ROUTES.items()):
        if kind != ADMIN:
            continue
        for url in concrete(method, path, two) + concrete(method, path, two, "org1"):
            r = member.post(url, data={**FORM, "csrf_token": token})
            if r.status_code != 403 or "Only an organisation admin" not in r.text:
                problems.append(f"POST {url}: {r.status_code}")
            r = member.post(url, headers={"X-CSRF-Token": token, "X-Requested-With": "fetch"})
            if r.status_code != 403:
                problems.append(f"POST {url} (fetch): {r.status_code}")
    assert not problems, "\n".join(problems)
    assert snapshot(w) == before


def test_bs_oauth_state_is_refused_in_as_session_and_stays_bs(two: Two) -> None:
    """B's admin opened a reconnect popup; its callback URL, followed in A's admin session
    (or any other browser), is refused without spending the state, and B can still finish."""
    w = two.w
    location = asyncio.run(consent(w.router, two.b_state_url, w.harness.consent_choices))
    parts = urlsplit(location)
    callback = f"{parts.path}?{parts.query}"
    state = parse_qs(parts.query)["state"][0]
    a_admin, _ = signed_in(w, "admin@alpha.test")
    before = snapshot(w)
    for client in (a_admin, browser(w)):
        r = client.get(callback)
        assert r.status_code == 422 and "started in another session" in r.text, r.text
    assert snapshot(w) == before  # not consumed, no connection for A
    with w.rt.db.session() as session:
        pending = session.get_one(OAuthState, state)
        assert pending.org_id == "org2" and pending.session_binding  # B's org, B's browser
        assert pending.consumed_at is None
    assert two.b_admin is not None
    r = two.b_admin.get(callback)
    assert r.status_code == 200 and '"ok": "true"' in r.text, r.text
    assert w.status("org2")["status"] == "connected"
    assert [c.status for c in _connections(w, "org1")] == ["connected"]


def _connections(w: World, org: str) -> list[Connection]:
    with w.rt.db.session() as session:
        return list(session.scalars(select(Connection).where(Connection.org_id == org)))
