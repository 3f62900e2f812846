"""Text the database cannot store, sent to every input of the admin UI: refused, not a 500.

PostgreSQL refuses a NUL character in text (psycopg DataError, a 500 once it reaches a query)
and a lone UTF-16 surrogate is not valid Unicode. For every web route, every path parameter,
query parameter and form field it reads (read from the application itself, plus the CSRF
token and a field no route declares) gets a NUL and a lone surrogate: the answer is a 422
saying what is wrong (the sign-in form again, an error page, or JSON for fetch calls), and no
row changes. Run on SQLite and PostgreSQL.

How the bad text is sent: a NUL percent-encoded (``%00``) in the path, query and form; a lone
surrogate in a multipart form whose charset is ``unicode_escape`` (Starlette decodes fields
with the charset the request names), and in the path as an ASGI server that passes it through
would hand it over. A UTF-8-encoded surrogate in a URL or urlencoded form (``%ED%A0%80``) is
decoded to U+FFFD by Starlette, which is storable text: those must simply not fail.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import fastapi.routing
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.testclient import TestClient

from crmsync.web.auth import CSRF_FIELD
from tests.support.world import World, world
from tests.web.test_web_isolation import snapshot, web_routes

PASSWORD = "a long passphrase"
NUL = "a\x00b"
SURROGATE = "a\ud800b"
UTF8_SURROGATE = "a%ED%A0%80b"  # what a browser cannot send, and Starlette decodes to U+FFFD
EXTRA = "extra"  # a query parameter or form field no route declares
STATIC = ("GET", "/static/{path}")


@dataclass
class Site:
    w: World
    failed_op: int

    @property
    def app(self) -> FastAPI:
        return cast(FastAPI, self.w.api.app)


@pytest.fixture
def site(db_url: str, tmp_path: Path) -> Iterator[Site]:
    """org1 syncs through HubSpot: one person synced, one whose insert failed (retryable)."""
    with world(db_url, tmp_path, "hubspot") as w:
        w.org("org1")
        body = {"id": "u-admin", "email": "admin@acme.test", "role": "admin", "password": PASSWORD}
        assert w.api.post("/api/v1/orgs/org1/users", json=body).status_code == 201
        w.connect("org1")
        w.harness.create_by_hand({"first_name": "Hand", "last_name": "Made", "email": "d@x.test"})
        w.person("p1", first_name="Alice")
        w.person("p-dup", emails=["d@x.test"])  # its insert fails: a duplicate email
        for pid in ("p1", "p-dup"):
            w.unlock("org1", pid, "u-admin")
        w.drain()
        [failed] = w.operations("org1", status="failed")
        yield Site(w, failed["id"])


def signed_in(site: Site) -> tuple[TestClient, str]:
    client = TestClient(site.w.api.app, follow_redirects=False)
    token = _csrf(client, "/signin")
    data = {"email": "admin@acme.test", "password": PASSWORD, CSRF_FIELD: token}
    r = client.post("/signin", data=data)
    assert r.status_code == 303, r.text
    return client, _csrf(client, "/settings/integrations")


def _csrf(client: TestClient, path: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).text)
    assert match
    return match.group(1)


# -- what each route reads, from the application --------------------------------------------
@dataclass(frozen=True)
class Inputs:
    path: tuple[str, ...]
    query: tuple[str, ...]
    form: tuple[str, ...]


def inputs(app: FastAPI) -> dict[tuple[str, str], Inputs]:
    """Every web route and the parameters it declares (the static mount reads its path)."""
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)  # FastAPI >= 0.13x
    routes = list(flatten(app.routes)) if flatten else list(app.routes)
    dependants = {
        (method, getattr(route, "path", "")): original.dependant
        for route in routes
        if (original := getattr(route, "original_route", route)) and hasattr(original, "dependant")
        for method in getattr(route, "methods", None) or ()
    }
    found: dict[tuple[str, str], Inputs] = {STATIC: Inputs(("path",), (), ())}
    for method, path in web_routes(app):
        if (method, path) == STATIC:
            continue
        declared = _declared(dependants[method, path])
        found[method, path] = Inputs(
            declared["path"],
            (*declared["query"], EXTRA),
            (*declared["body"], CSRF_FIELD, EXTRA) if method == "POST" else (),
        )
    return found


def _declared(dependant: Dependant) -> dict[str, tuple[str, ...]]:
    """The names of the path, query and form parameters of a route and its dependencies."""
    names: dict[str, list[str]] = {"path": [], "query": [], "body": []}
    stack = [dependant]
    while stack:
        current = stack.pop(0)
        names["path"] += [p.alias for p in current.path_params]
        names["query"] += [p.alias for p in current.query_params]
        names["body"] += [p.alias for p in current.body_params]
        stack += current.dependencies
    return {kind: tuple(dict.fromkeys(found)) for kind, found in names.items()}


def test_every_route_and_parameter_is_enumerated(site: Site) -> None:
    """Guards the matrix below: it covers the routes and parameters the code has today."""
    found = inputs(site.app)
    assert found["POST", "/signin"].form[:4] == ("email", "password", "org", "next")
    assert found["GET", "/settings/logs"].query[:3] == ("status", "person", "before")
    assert found["GET", "/settings/people/{person_id}"].path == ("person_id",)
    assert found["POST", "/settings/logs/{operation_id}/retry"].form[0] == "back"
    assert len(found) == len(web_routes(site.app)) >= 17


def valid(site: Site) -> dict[str, str]:
    """A good value for each path parameter, so each request would reach the database."""
    return {
        "provider": "hubspot",
        "operation_id": str(site.failed_op),
        "person_id": "p1",
        "path": "app.js",
    }


def fill(path: str, values: dict[str, str], bad: tuple[str, str] | None = None) -> str:
    """The route's path with good values, and ``bad`` (name, raw URL text) in its place."""
    for name in re.findall(r"{(\w+)}", path):
        text = bad[1] if bad and bad[0] == name else quote(values[name], safe="")
        path = path.replace(f"{{{name}}}", text)
    return path


def good_form(site: Site, token: str) -> dict[str, str]:
    return {
        "email": "admin@acme.test",
        "password": PASSWORD,
        "next": "/settings/logs",
        "back": "/settings/logs",
        "skip_backfill": "on",
        "preserve_manual_edits": "on",
        "create_missing_fields": "on",
        CSRF_FIELD: token,
    }


# -- the matrix -----------------------------------------------------------------------------
def _refused(r: Any, what: str, problem: str) -> str | None:
    """None if ``r`` is the 422 the UI shows for refused text, else what is wrong with it."""
    if r.status_code != 422:
        return f"{what}: {r.status_code} {r.text[:200]!r}"
    if problem not in r.text:
        return f"{what}: 422 without saying why: {r.text[:300]!r}"
    return None


def test_nul_in_every_path_query_and_form_input_is_a_422_that_writes_nothing(
    site: Site,
) -> None:
    w = site.w
    problems: list[str] = []
    checked = 0
    for (method, path), reads in sorted(inputs(site.app).items()):
        client, token = signed_in(site)  # each route on its own session (sign-out is one)
        values = valid(site)
        before = snapshot(w)
        cases: list[tuple[str, str, dict[str, str]]] = []  # (what, url, form)
        for name in reads.path:
            cases.append((f"path {name}", fill(path, values, (name, quote(NUL))), {}))
        for name in reads.query:
            cases.append((f"query {name}", f"{fill(path, values)}?{name}={quote(NUL)}", {}))
        for name in reads.form:
            cases.append((f"form {name}", fill(path, values), {name: NUL}))
        if method == "POST":
            cases.append(("a form field's name", fill(path, values), {NUL: "x"}))
        for what, url, bad in cases:
            label = f"{method} {path} ({what})"
            if method == "GET":
                r = client.get(url)
            else:
                r = client.post(url, data={**good_form(site, token), **bad})
            if (method, path) == STATIC:  # no such file: StaticFiles answers 404
                if r.status_code != 404:
                    problems.append(f"{label}: {r.status_code}")
            elif problem := _refused(r, label, "must not contain NUL characters"):
                problems.append(problem)
            checked += 1
        if snapshot(w) != before:
            problems.append(f"{method} {path}: a refused request wrote to the database")
    assert not problems, "\n".join(problems)
    assert checked >= 60


def test_a_lone_surrogate_in_every_form_field_is_a_422_that_writes_nothing(
    site: Site,
) -> None:
    """A multipart form whose charset is ``unicode_escape``: Starlette decodes ``\\ud800`` in a
    field to a lone surrogate (and ``\\x00`` to a NUL), so both reach the route as text."""
    w = site.w
    problems: list[str] = []
    for (method, path), reads in sorted(inputs(site.app).items()):
        if method != "POST":
            continue
        client, token = signed_in(site)
        before = snapshot(w)
        for name in reads.form:
            for raw, problem in (
                ("a\\ud800b", "lone UTF-16 surrogates"),
                ("a\\x00b", "NUL characters"),
            ):
                fields = {**good_form(site, token), name: raw}  # ASCII: unicode_escape keeps it
                r = client.post(
                    fill(path, valid(site)),
                    content=_multipart(fields),
                    headers={
                        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}; "
                        "charset=unicode_escape"
                    },
                )
                if issue := _refused(r, f"{method} {path} (form {name}: {raw})", problem):
                    problems.append(issue)
        if snapshot(w) != before:
            problems.append(f"{method} {path}: a refused request wrote to the database")
    assert not problems, "\n".join(problems)


BOUNDARY = "crmsync-test-boundary"


def _multipart(fields: dict[str, str]) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    return ("".join(parts) + f"--{BOUNDARY}--\r\n").encode("latin-1")


def test_a_lone_surrogate_in_every_path_parameter_is_a_422_that_writes_nothing(
    site: Site,
) -> None:
    """Sent as an ASGI server that decodes the path with surrogates would hand it over (a test
    client cannot: it percent-encodes the URL as UTF-8, which has no lone surrogates)."""
    w = site.w
    client, token = signed_in(site)
    problems: list[str] = []
    before = snapshot(w)
    for (method, path), reads in sorted(inputs(site.app).items()):
        for name in reads.path:
            values = {**valid(site), name: SURROGATE}
            url = path
            for key, value in values.items():
                url = url.replace(f"{{{key}}}", value)
            status, body = _asgi(site.app, client, method, url, token)
            label = f"{method} {path} ({name})"
            if (method, path) == STATIC:
                if status != 404:
                    problems.append(f"{label}: {status}")
            elif status != 422 or "must not contain lone UTF-16 surrogates" not in body:
                problems.append(f"{label}: {status} {body[:200]!r}")
    assert not problems, "\n".join(problems)
    assert snapshot(w) == before


def _asgi(app: FastAPI, client: TestClient, method: str, path: str, token: str) -> tuple[int, str]:
    """One request straight to the ASGI app, with the client's session cookie."""
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogatepass"),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"cookie", cookie.encode()),
            (b"x-csrf-token", token.encode()),
        ],
        "client": ("testclient", 50000),
        "server": ("testserver", 80),
    }
    status: list[int] = []
    body: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    async def call() -> None:
        await app(scope, receive, send)  # type: ignore[arg-type]

    asyncio.run(call())
    return status[0], b"".join(body).decode("utf-8", "replace")


def test_utf8_encoded_surrogates_are_storable_text_and_do_not_fail(site: Site) -> None:
    """``%ED%A0%80`` (a surrogate, UTF-8-encoded) is decoded to U+FFFD: no 5xx, no write."""
    problems: list[str] = []
    for (method, path), reads in sorted(inputs(site.app).items()):
        if path.endswith("/disconnect") or path == "/signout":
            continue  # accepted as they should be: nothing in them is text to refuse
        client, token = signed_in(site)
        urls = [fill(path, valid(site), (name, UTF8_SURROGATE)) for name in reads.path]
        urls += [f"{fill(path, valid(site))}?{name}={UTF8_SURROGATE}" for name in reads.query]
        for url in urls:
            r = client.get(url) if method == "GET" else client.post(url, data={CSRF_FIELD: token})
            if r.status_code >= 500:
                problems.append(f"{method} {url}: {r.status_code}")
        for name in reads.form:
            body = f"{CSRF_FIELD}={token}&{name}={UTF8_SURROGATE}"
            r = client.post(
                fill(path, valid(site)),
                content=body.encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            if r.status_code >= 500:
                problems.append(f"{method} {path} (form {name}): {r.status_code}")
    assert not problems, "\n".join(problems)


# -- how the refusal looks ------------------------------------------------------------------
def test_the_sign_in_form_says_what_is_wrong_and_keeps_the_good_fields(site: Site) -> None:
    client = TestClient(site.w.api.app, follow_redirects=False)
    token = _csrf(client, "/signin")
    before = snapshot(site.w)
    data = {"email": "admin@acme.test", "password": f"x{NUL}", CSRF_FIELD: token}
    r = client.post("/signin", data=data)
    assert r.status_code == 422
    assert 'id="signin-error"' in r.text
    assert "The password field must not contain NUL characters" in r.text
    assert 'value="admin@acme.test"' in r.text  # the email was fine: still filled in
    data = {"email": f"admin@acme.test{NUL}", "password": PASSWORD, CSRF_FIELD: token}
    r = client.post("/signin", data=data)
    assert r.status_code == 422 and "The email field must not contain NUL" in r.text
    assert "\x00" not in r.text
    # not signed in
    assert client.get("/settings/integrations").status_code == 303
    assert snapshot(site.w) == before


def test_pages_show_the_refusal_with_the_navigation(site: Site) -> None:
    client, token = signed_in(site)
    r = client.get("/settings/logs?person=a%00b")
    assert r.status_code == 422
    assert "The person parameter must not contain NUL characters" in r.text
    assert "Integration logs" in r.text  # the signed-in layout, not the sign-in panel
    r = client.get("/settings/people/a%00b")
    assert r.status_code == 422 and "The person_id part of the address" in r.text
    fetch = {"X-Requested-With": "fetch", "X-CSRF-Token": token}
    r = client.post("/settings/logs/retry-failed?back=a%00b", headers=fetch)
    assert r.status_code == 422
    assert r.json() == {
        "ok": False,
        "detail": "The back parameter must not contain NUL characters (\\x00). "
        "Remove it and try again.",
    }
    r = client.get("/settings/integrations/status?x=%00", headers=fetch)
    assert r.status_code == 422 and r.json()["ok"] is False
    anonymous = TestClient(site.w.api.app, follow_redirects=False)
    r = anonymous.get("/signin?next=/settings/logs%00")
    assert r.status_code == 422 and "The next parameter" in r.text
    # the filters still work with good input
    r = client.get("/settings/logs?person=p-dup&status=failed")
    assert r.status_code == 200 and f'id="op-{site.failed_op}"' in r.text


def test_an_operation_id_no_database_row_can_have_is_a_422_that_writes_nothing(
    site: Site,
) -> None:
    """Fixed: an unbounded int reached the database and overflowed (a 500): the SQLite driver
    beyond 64 bits, PostgreSQL beyond 32 (the id column is an INTEGER)."""
    client, token = signed_in(site)
    before = snapshot(site.w)
    for number in (2**70, 2**63, 2**31, 0, -1, -(2**63) - 1):
        r = client.get(f"/settings/logs?before={number}")
        assert r.status_code == 422, (number, r.text)
        r = client.post(f"/settings/logs/{number}/retry", data={CSRF_FIELD: token})
        assert r.status_code == 422, (number, r.text)
    assert snapshot(site.w) == before
    # the largest possible id is fine: nothing older, no such operation
    assert client.get(f"/settings/logs?before={2**31 - 1}").status_code == 200
    r = client.post(f"/settings/logs/{2**31 - 1}/retry", data={CSRF_FIELD: token})
    assert r.status_code == 303
