"""The admin UI on the server: sign-in, sessions, CSRF, roles, the log and its retries."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from crmsync.db.migrate import upgrade
from crmsync.db.session import Database
from crmsync.db.tables import Connection, OAuthState, Org, User
from crmsync.emulation import OAuthApp
from crmsync.services.passwords import verify_password
from crmsync.settings import Settings, get_settings
from crmsync.web.auth import add_session_middleware
from tests.support.consent import consent
from tests.support.world import World, world

PASSWORD = "a long passphrase"
ADMIN_POSTS = [
    "/settings/integrations/hubspot/connect",
    "/settings/integrations/reconnect",
    "/settings/integrations/preserve-edits",
    "/settings/integrations/push",
    "/settings/integrations/setup",
    "/settings/integrations/disconnect",
    "/settings/logs/1/retry",
    "/settings/logs/retry-failed",
]


@pytest.fixture
def w(db_url: str, tmp_path: Path) -> Iterator[World]:
    with world(db_url, tmp_path, "hubspot") as instance:
        for org in ("org1", "org2"):
            instance.org(org)
        for user_id, org, email, role in (
            ("u-admin", "org1", "admin@acme.test", "admin"),
            ("u-member", "org1", "member@acme.test", "member"),
            ("u-other", "org2", "other@beta.test", "admin"),
        ):
            body = {"id": user_id, "email": email, "role": role, "password": PASSWORD}
            assert instance.api.post(f"/api/v1/orgs/{org}/users", json=body).status_code == 201
        yield instance


def browser(w: World) -> TestClient:
    """A client with its own cookie jar and no host API key: a browser."""
    return TestClient(w.api.app, follow_redirects=False)


def csrf(client: TestClient, path: str = "/signin") -> str:
    page = client.get(path)
    match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def signed_in(w: World, email: str) -> tuple[TestClient, str]:
    client = browser(w)
    token = csrf(client)
    r = client.post("/signin", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 303, r.text
    return client, csrf(client, "/settings/integrations")


def test_pages_need_a_session(w: World) -> None:
    client = browser(w)
    for path in ("/settings/integrations", "/settings/logs?status=failed", "/settings/people/p1"):
        r = client.get(path)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/signin?next=/settings/")
    assert client.get("/").headers["location"] == "/signin"
    r = client.get("/settings/integrations/status", headers={"X-Requested-With": "fetch"})
    assert r.status_code == 401


def test_sign_in_checks_the_password_and_sets_a_locked_down_cookie(w: World) -> None:
    client = browser(w)
    token = csrf(client)
    wrong = {"email": "admin@acme.test", "password": "not it", "csrf_token": token}
    r = client.post("/signin", data=wrong)
    assert r.status_code == 401
    assert "don&#39;t match an account" in r.text
    right = {**wrong, "password": PASSWORD, "next": "/settings/logs"}
    r = client.post("/signin", data=right)
    assert r.status_code == 303
    assert r.headers["location"] == "/settings/logs"
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith("crmsync_session=")
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert client.get("/settings/logs").status_code == 200
    with w.rt.db.session() as session:
        stored = session.get_one(User, "u-admin").password_hash
    assert stored and stored.startswith("scrypt$") and PASSWORD not in stored


def test_the_session_cookie_is_secure_behind_https() -> None:
    app = FastAPI()
    settings = Settings(
        public_url="https://crm.acme.test", encryption_key=Fernet.generate_key().decode()
    )
    add_session_middleware(app, settings)

    @app.get("/touch")
    def touch(request: Request) -> dict[str, str]:
        request.session["x"] = "1"
        return {}

    cookie = TestClient(app, base_url="https://testserver").get("/touch").headers["set-cookie"]
    assert "secure" in cookie.lower()


def test_next_never_leaves_the_site(w: World) -> None:
    client = browser(w)
    token = csrf(client)
    body = {"email": "admin@acme.test", "password": PASSWORD, "csrf_token": token}
    r = client.post("/signin", data={**body, "next": "//evil.example/phish"})
    assert r.headers["location"] == "/settings/integrations"


def test_repeated_failures_are_throttled(w: World) -> None:
    client = browser(w)
    token = csrf(client)
    body = {"email": "member@acme.test", "password": "guess", "csrf_token": token}
    codes = [client.post("/signin", data=body).status_code for _ in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429


def test_every_post_needs_the_csrf_token(w: World) -> None:
    anonymous = browser(w)
    csrf(anonymous)
    login = {"email": "admin@acme.test", "password": PASSWORD}
    assert anonymous.post("/signin", data=login).status_code == 403
    admin, token = signed_in(w, "admin@acme.test")
    for path in [*ADMIN_POSTS, "/signout"]:
        assert admin.post(path).status_code == 403, path
        assert admin.post(path, data={"csrf_token": "forged"}).status_code == 403, path
        r = admin.post(path, headers={"X-CSRF-Token": "forged", "X-Requested-With": "fetch"})
        assert r.status_code == 403, path
    assert admin.get("/settings/integrations").status_code == 200  # still signed in
    other, _ = signed_in(w, "other@beta.test")
    assert other.post("/signout", data={"csrf_token": token}).status_code == 403  # not theirs


def test_members_see_everything_but_change_nothing(w: World) -> None:
    w.person("p1")
    w.unlock("org1", "p1", "u-admin")
    w.connect("org1")
    w.drain()
    member, token = signed_in(w, "member@acme.test")
    page = member.get("/settings/integrations").text
    assert 'role="switch"' in page and "Only admins" in page
    assert re.search(r'id="preserve-hubspot"[^>]*disabled', page)
    assert re.search(r'id="push-hubspot"[^>]*checked[^>]*disabled', page)
    assert 'action="/settings/integrations/disconnect"' not in page
    assert member.get("/settings/logs").status_code == 200
    assert member.get("/settings/people/p1").status_code == 200
    for path in ADMIN_POSTS:
        r = member.post(path, data={"csrf_token": token, "preserve_manual_edits": "on"})
        assert r.status_code == 403, path
        assert "Only an organisation admin" in r.text
        r = member.post(path, headers={"X-CSRF-Token": token, "X-Requested-With": "fetch"})
        assert r.status_code == 403 and r.json()["detail"].startswith("Only"), path
    status = w.status()
    assert status["status"] == "connected" and status["preserve_manual_edits"] is False
    assert status["push"]["enabled"] is True


def test_admins_change_options_and_disconnect(w: World) -> None:
    w.connect("org1")
    admin, token = signed_in(w, "admin@acme.test")
    r = admin.post(
        "/settings/integrations/preserve-edits",
        data={"csrf_token": token, "preserve_manual_edits": "on"},
    )
    assert r.status_code == 303
    assert w.status()["preserve_manual_edits"] is True
    assert "Preserve manual edits is on." in admin.get("/settings/integrations").text
    r = admin.post("/settings/integrations/push", data={"csrf_token": token})  # unchecked
    assert r.status_code == 303 and w.status()["push"]["enabled"] is False
    page = admin.get("/settings/integrations").text
    assert "Pushing to the CRM is off" in page
    assert not re.search(r'id="push-hubspot"[^>]*checked', page)
    kicks = len(w.kicks)
    r = admin.post("/settings/integrations/push", data={"csrf_token": token, "push_enabled": "on"})
    assert r.status_code == 303 and w.status()["push"]["enabled"] is True
    assert w.kicks[kicks:] == [w.connection().id]  # the queue resumes at once
    r = admin.post("/settings/integrations/disconnect", data={"csrf_token": token})
    assert r.status_code == 303
    page = admin.get("/settings/integrations").text
    assert "Records already in HubSpot were left as they are" in page
    assert "Connect HubSpot" in page


def test_oauth_from_the_ui_is_bound_to_the_browser_session(w: World) -> None:
    admin, token = signed_in(w, "admin@acme.test")
    fetch = {"X-CSRF-Token": token, "X-Requested-With": "fetch"}

    def start() -> str:
        r = admin.post("/settings/integrations/hubspot/connect", headers=fetch)
        assert r.status_code == 200, r.text
        url: str = r.json()["authorize_url"]
        state = parse_qs(urlsplit(url).query)["state"][0]
        with w.rt.db.session() as session:
            assert session.get_one(OAuthState, state).session_binding
        location = asyncio.run(consent(w.router, url))
        parts = urlsplit(location)
        return f"{parts.path}?{parts.query}"

    stranger = browser(w)  # e.g. someone the callback URL was passed to
    r = stranger.get(start())
    assert r.status_code == 422 and "started in another session" in r.text
    r = admin.get(start())
    assert r.status_code == 200, r.text
    assert '"ok": "true"' in r.text
    assert w.status()["status"] == "connected"


def test_people_of_other_orgs_stay_hidden(w: World) -> None:
    w.person("p1", first_name="Secret")
    w.unlock("org1", "p1", "u-admin")
    w.connect("org1")
    w.drain()
    admin, _ = signed_in(w, "admin@acme.test")
    assert "Secret" in admin.get("/settings/people/p1").text
    other, _ = signed_in(w, "other@beta.test")
    r = other.get("/settings/people/p1")
    assert r.status_code == 404 and "Secret" not in r.text


def test_setup_required_offers_to_create_the_fields(w: World) -> None:
    w.connect("org1")
    conn = w.connection()
    with w.rt.db.session() as session:
        row = session.get_one(Connection, conn.id)
        row.status = "setup_required"
        row.settings = {**row.settings, "setup": {"missing": ["Acme Person ID"], "message": ""}}
    admin, token = signed_in(w, "admin@acme.test")
    page = admin.get("/settings/integrations").text
    assert "Setup required" in page and "<code>Acme Person ID</code>" in page
    r = admin.post(
        "/settings/integrations/setup", data={"csrf_token": token, "create_missing_fields": "on"}
    )
    assert r.status_code == 303
    assert w.status()["status"] == "connected"
    assert w.connection().settings.get("create_missing_fields") is True


def test_the_log_filters_and_retries_all_failed(w: World) -> None:
    w.connect("org1")
    crm_id = w.harness.create_by_hand({"first_name": "Hand", "email": "taken@example.com"})
    w.person("dup", emails=["taken@example.com"])
    w.person("fine")
    for person in ("dup", "fine"):
        w.unlock("org1", person, "u-admin")
    w.drain()
    admin, token = signed_in(w, "admin@acme.test")
    page = admin.get("/settings/logs", params={"status": "failed"}).text
    assert page.count('<tr id="op-') == 1 and ">dup</span></a>" in page
    assert "another contact already has this one" in page
    assert admin.get("/settings/logs", params={"person": "fine"}).text.count('<tr id="op-') == 1
    assert "Newer run above" not in page
    w.harness.manual_edit(crm_id, "email", "moved@example.com")
    r = admin.post("/settings/logs/retry-failed", data={"csrf_token": token, "back": "//evil"})
    assert r.status_code == 303 and r.headers["location"] == "/settings/logs"
    w.drain()
    page = admin.get("/settings/logs").text
    assert "Retrying 1 failed operation." in page
    first = page.index('<tr id="op-')
    assert "retry of #" in page[first : page.index("</tr>", first)]  # the retried run, on top
    assert "Newer run above" in page  # the old failure is not offered for retry again
    assert w.status()["counts"]["failed"] == 0
    person = admin.get("/settings/people/dup").text
    assert "Created" in person and "contact" in person


def test_user_create_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crmsync.cli.main import app

    monkeypatch.setenv("CRMSYNC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CRMSYNC_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    get_settings.cache_clear()
    try:
        db = Database(f"sqlite:///{tmp_path}/cli.db")
        upgrade(db.url)
        with db.session() as session:
            session.add(Org(id="acme", name="Acme"))
        runner = CliRunner()
        args = ["user", "create", "--org", "acme", "--email", "Sam@Acme.test", "--role", "admin"]
        r = runner.invoke(app, [*args, "--password", PASSWORD])
        assert r.exit_code == 0, r.output
        assert "created admin sam@acme.test" in r.output
        r = runner.invoke(app, [*args, "--password", "short"])
        assert r.exit_code == 2 and "password" in r.output
        r = runner.invoke(app, args, input=f"{PASSWORD}\n{PASSWORD}\n")  # prompted, hidden
        assert r.exit_code == 1 and "already has a user with email" in r.output
        with db.session() as session:
            user = session.scalars(select(User)).one()
            assert user.role == "admin" and verify_password(PASSWORD, user.password_hash)
        db.dispose()
    finally:
        get_settings.cache_clear()


def test_an_admin_connects_through_the_orgs_own_app_from_the_connect_form(w: World) -> None:
    """The form shows the callback URL to register; the client id and secret typed in go to
    the CRM's consent page and the code exchange (the emulator knows only the apps registered
    with it, and refuses tokens of one app to another)."""
    callback = w.rt.redirect_uri("hubspot")
    w.harness.register_app(OAuthApp("acme-app", "acme-secret", redirect_uris=(callback,)))
    admin, token = signed_in(w, "admin@acme.test")
    page = admin.get("/settings/integrations").text
    assert "Use your own HubSpot app" in page and f'value="{callback}"' in page
    fetch = {"X-CSRF-Token": token, "X-Requested-With": "fetch"}
    own = {"client_id": "acme-app", "client_secret": "acme-secret"}
    r = admin.post("/settings/integrations/hubspot/connect", headers=fetch, data=own)
    assert r.status_code == 200, r.text
    url = r.json()["authorize_url"]
    assert parse_qs(urlsplit(url).query)["client_id"] == ["acme-app"]
    parts = urlsplit(asyncio.run(consent(w.router, url)))
    assert admin.get(f"{parts.path}?{parts.query}").status_code == 200
    assert w.status()["status"] == "connected"


def test_half_an_own_app_is_refused_on_the_card_and_nothing_starts(w: World) -> None:
    admin, token = signed_in(w, "admin@acme.test")
    fetch = {"X-CSRF-Token": token, "X-Requested-With": "fetch"}
    r = admin.post(
        "/settings/integrations/hubspot/connect", headers=fetch, data={"client_id": "only-id"}
    )
    assert r.status_code == 409, r.text  # the card's own answer to a refused connect
    assert "go together" in r.json()["detail"]
    with w.rt.db.session() as session:
        assert session.scalars(select(OAuthState)).all() == []
