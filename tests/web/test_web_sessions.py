"""Sign out ends the session on the server: a copy of the cookie stops working too.

The session is a signed cookie; it carries the user's *session generation*, which must still
be the user's on every request. Signing out, a password change and disabling the user move
the generation on, so every cookie issued before (this browser's, a copy, another browser's)
is signed out.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from crmsync.db.migrate import upgrade
from crmsync.db.session import Database
from crmsync.db.tables import Org, User
from crmsync.services.passwords import verify_password
from crmsync.settings import get_settings
from tests.support.world import World, world
from tests.web.test_web_server import PASSWORD, browser, csrf, signed_in

PAGE = "/settings/integrations"
FETCH = {"X-Requested-With": "fetch"}


@pytest.fixture
def w(db_url: str, tmp_path: Path) -> Iterator[World]:
    with world(db_url, tmp_path, "hubspot") as instance:
        instance.org("org1")
        for user_id, email, role in (
            ("u-admin", "admin@acme.test", "admin"),
            ("u-member", "member@acme.test", "member"),
        ):
            body = {"id": user_id, "email": email, "role": role, "password": PASSWORD}
            assert instance.api.post("/api/v1/orgs/org1/users", json=body).status_code == 201
        yield instance


def copy_of(w: World, client: TestClient) -> TestClient:
    """Another browser holding a copy of ``client``'s session cookie (a stolen cookie)."""
    thief = browser(w)
    for name, value in client.cookies.items():
        thief.cookies.set(name, value)
    return thief


def assert_signed_out(client: TestClient) -> None:
    r = client.get(PAGE)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin"), r.text
    assert client.get(f"{PAGE}/status", headers=FETCH).status_code == 401


def test_a_copied_cookie_is_signed_out_with_its_session(w: World) -> None:
    client, token = signed_in(w, "admin@acme.test")
    thief = copy_of(w, client)
    assert thief.get(PAGE).status_code == 200  # the copy works while the session lives
    r = client.post("/signout", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/signin"
    assert_signed_out(thief)
    assert_signed_out(client)
    again, _token = signed_in(w, "admin@acme.test")  # signing in again works
    assert again.get(PAGE).status_code == 200
    assert_signed_out(thief)  # and does not bring the old cookie back


def test_signing_out_ends_the_users_other_sessions_too(w: World) -> None:
    """The generation is per user: signing out in one browser signs out every browser."""
    first, token = signed_in(w, "admin@acme.test")
    second, _token = signed_in(w, "admin@acme.test")
    member, _token = signed_in(w, "member@acme.test")
    first.post("/signout", data={"csrf_token": token})
    assert_signed_out(second)
    assert member.get(PAGE).status_code == 200  # other users are not affected


def test_a_stale_cookie_cannot_sign_the_user_out_again(w: World) -> None:
    client, token = signed_in(w, "admin@acme.test")
    thief = copy_of(w, client)
    client.post("/signout", data={"csrf_token": token})
    fresh, _token = signed_in(w, "admin@acme.test")
    thief.post("/signout", data={"csrf_token": token})  # the old cookie, its own CSRF token
    assert fresh.get(PAGE).status_code == 200


def test_a_password_change_signs_out_every_session(w: World) -> None:
    client, _token = signed_in(w, "admin@acme.test")
    new = "another long passphrase"
    r = w.api.patch("/api/v1/orgs/org1/users/u-admin", json={"password": new})
    assert r.status_code == 200, r.text
    assert r.json()["disabled"] is False
    assert_signed_out(client)
    anonymous = browser(w)
    body = {"email": "admin@acme.test", "password": PASSWORD, "csrf_token": csrf(anonymous)}
    assert anonymous.post("/signin", data=body).status_code == 401  # the old one is refused
    r = anonymous.post("/signin", data={**body, "password": new})
    assert r.status_code == 303


def test_a_disabled_user_is_signed_out_and_cannot_sign_in(w: World) -> None:
    client, _token = signed_in(w, "member@acme.test")
    r = w.api.patch("/api/v1/orgs/org1/users/u-member", json={"disabled": True})
    assert r.status_code == 200 and r.json()["disabled"] is True, r.text
    assert_signed_out(client)
    anonymous = browser(w)
    body = {"email": "member@acme.test", "password": PASSWORD, "csrf_token": csrf(anonymous)}
    r = anonymous.post("/signin", data=body)
    assert r.status_code == 401 and "match an account" in r.text  # says no more than that
    r = w.api.patch("/api/v1/orgs/org1/users/u-member", json={"disabled": False})
    assert r.status_code == 200 and r.json()["disabled"] is False
    assert anonymous.post("/signin", data=body).status_code == 303
    assert_signed_out(client)  # enabling again does not revive the old session


def test_changing_a_user_refuses_bad_input_and_writes_nothing(w: World) -> None:
    def users() -> list[tuple[str, int, bool, str | None]]:
        with w.rt.db.session() as session:
            rows = session.scalars(select(User).order_by(User.id))
            return [(u.id, u.session_generation, u.disabled, u.password_hash) for u in rows]

    before = users()
    for url, body, status in (
        ("/api/v1/orgs/org1/users/nobody", {"disabled": True}, 404),
        ("/api/v1/orgs/org2/users/u-admin", {"disabled": True}, 404),
        ("/api/v1/orgs/org1/users/u-admin", {"password": "short"}, 422),
        ("/api/v1/orgs/org1/users/u-admin", {"role": "admin"}, 422),
        ("/api/v1/orgs/org1/users/u-admin", {"disabled": "maybe"}, 422),
        ("/api/v1/orgs/org1/users/u-admin", {}, 422),
    ):
        r = w.api.patch(url, json=body)
        assert r.status_code == status, (url, body, r.text)
    assert users() == before


def test_user_commands_change_the_password_and_disable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmsync.cli.main import app

    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("CRMSYNC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CRMSYNC_DATABASE_URL", url)
    get_settings.cache_clear()
    db = Database(url)
    try:
        upgrade(url)
        with db.session() as session:
            session.add(Org(id="acme", name="Acme"))
        runner = CliRunner()
        who = ["--org", "acme", "--email", "Sam@Acme.test"]
        r = runner.invoke(app, ["user", "create", *who, "--password", PASSWORD])
        assert r.exit_code == 0, r.output

        def sam() -> User:
            with db.session() as session:
                return session.scalars(select(User)).one()

        generation = sam().session_generation
        new = "a new long passphrase"
        r = runner.invoke(app, ["user", "set-password", *who], input=f"{new}\n{new}\n")
        assert r.exit_code == 0, r.output
        assert verify_password(new, sam().password_hash)
        assert sam().session_generation == generation + 1
        r = runner.invoke(app, ["user", "disable", *who])
        assert r.exit_code == 0 and "disabled" in r.output, r.output
        assert sam().disabled and sam().session_generation == generation + 2
        r = runner.invoke(app, ["user", "enable", *who])
        assert r.exit_code == 0 and not sam().disabled, r.output
        r = runner.invoke(app, ["user", "disable", "--org", "acme", "--email", "no@acme.test"])
        assert r.exit_code == 1 and "no user" in r.output, r.output
    finally:
        db.dispose()
        get_settings.cache_clear()
