"""Hypothesis over the admin UI: form posts and query strings, as a signed-in admin, a
signed-in member and a signed-out browser. No answer is a 5xx, and a refusal (4xx) says
something and wrote nothing.

The web routes have no OpenAPI schema for Schemathesis, so each route's inputs are read from
the application (the path, query and form parameters it and its dependencies declare) and
each example fills some of them, plus names no route declares, with values that would reach
the database (the seeded org's operation and person ids, the CRM's name, local paths) or
with anything: random text with NUL and control characters, integers far beyond 64 bits,
files where text is expected. The CSRF token is right, wrong or missing; the request is a
page or a fetch call; the body is a form, a multipart form or raw bytes.

Examples share one seeded crmsync per route (SQLite, HubSpot emulator): what an accepted
action changed stays, except that Sign out, sign-in and Disconnect are undone between
examples (the role signs in again, the org reconnects), so later examples still reach past
them.
``CRMSYNC_FUZZ_EXAMPLES`` and ``CRMSYNC_FUZZ_RANDOM=1`` dig deeper, as for the REST API.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmsync.domain.enums import OpStatus
from crmsync.domain.modes import ExportMode, ImportMode
from crmsync.providers.catalog import BUILTIN
from crmsync.services import connections
from crmsync.web.auth import CSRF_FIELD
from tests.security.test_api_fuzz import snapshot
from tests.support.world import World, world
from tests.web.test_web_bad_input import EXTRA, Inputs, inputs
from tests.web.test_web_isolation import WEB_ROUTES

# Per route: a few examples, and more for each input it reads (the sign-in form: 26).
EXAMPLES_PER_INPUT = int(os.environ.get("CRMSYNC_FUZZ_EXAMPLES", "4"))
DERANDOMIZE = not os.environ.get("CRMSYNC_FUZZ_RANDOM")
PASSWORD = "a long passphrase"
ROLES = {"admin": "admin@acme.test", "member": "member@acme.test", "anonymous": ""}
ROUTES = sorted(WEB_ROUTES)
ASSETS = {"/static/{path}", "/settings/integrations/logos/{provider}.svg"}


@dataclass
class Site:
    """org1 syncs through HubSpot (one person synced, one failed); org2 has its own user."""

    w: World
    op_ids: list[int]
    reads: dict[tuple[str, str], Inputs]
    clients: dict[str, tuple[TestClient, str]] = field(default_factory=dict)
    addresses: Iterator[int] = field(default_factory=itertools.count)

    @property
    def app(self) -> FastAPI:
        return cast(FastAPI, self.w.api.app)

    def browser(self) -> TestClient:
        """A fresh browser from an address of its own: signing in again after a fuzzed Sign
        out is not held back by the sign-in throttle the fuzzed sign-ins fill."""
        n = next(self.addresses)
        address = f"10.{n // 250 % 250}.{n % 250}.1"
        return TestClient(self.app, follow_redirects=False, client=(address, 40000))

    def session(self, role: str) -> tuple[TestClient, str]:
        """The role's browser and CSRF token, signed in (again, after ``forget``)."""
        if role in self.clients:
            return self.clients[role]
        client = self.browser()
        token = _csrf(client, "/signin")
        if ROLES[role]:
            body = {"email": ROLES[role], "password": PASSWORD, CSRF_FIELD: token}
            r = client.post("/signin", data=body)
            assert r.status_code == 303, r.text
            token = _csrf(client, "/settings/integrations")
        self.clients[role] = (client, token)
        return client, token

    def forget(self, role: str) -> None:
        """After a fuzzed Sign out or sign-in (as whoever): a fresh browser next time."""
        self.clients.pop(role, None)

    def reconnect_if_disconnected(self) -> None:
        with self.w.rt.db.session() as session:
            connected = connections.active_connection(session, "org1") is not None
        if not connected:
            self.w.connect("org1")


def _csrf(client: TestClient, path: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).text)
    assert match, path
    return match.group(1)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp_path = tmp_path_factory.mktemp("web-fuzz")
    with world(f"sqlite:///{tmp_path}/crmsync.db", tmp_path, "hubspot") as w:
        w.org("org1")
        w.org("org2")
        for user_id, org, email, role in (
            ("u-admin", "org1", ROLES["admin"], "admin"),
            ("u-member", "org1", ROLES["member"], "member"),
            ("u-other", "org2", "other@beta.test", "admin"),
        ):
            body = {"id": user_id, "email": email, "role": role, "password": PASSWORD}
            assert w.api.post(f"/api/v1/orgs/{org}/users", json=body).status_code == 201
        w.connect("org1")
        w.harness.create_by_hand({"first_name": "Hand", "last_name": "Made", "email": "d@x.test"})
        w.person("p1", first_name="Alice")
        w.person("p-dup", emails=["d@x.test"])  # its insert fails: a duplicate email
        for pid in ("p1", "p-dup"):
            w.unlock("org1", pid, "u-admin")
        w.drain()
        op_ids = [op["id"] for op in w.operations("org1")]
        assert len(op_ids) == 2
        yield Site(w, op_ids, inputs(cast(FastAPI, w.api.app)))


# -- what an example sends ------------------------------------------------------------------
ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)  # NUL and controls
HUGE = st.sampled_from([2**31, 2**63, 2**70, -(2**63) - 1, 0, -1]).map(str)
ANYTHING = st.one_of(ANY_TEXT, st.integers().map(str), HUGE)
NUMBERS = {"operation_id", "before"}


def known_values(site: Site) -> dict[str, st.SearchStrategy[str]]:
    """Per parameter name, values that reach past the lookups (and into the database)."""
    ops = st.sampled_from([str(op_id) for op_id in site.op_ids])
    people = st.sampled_from(["p1", "p-dup", "p-unknown"])
    local = st.sampled_from(["/settings/logs", "/settings/people/p1", "//evil.example", "/"])
    on = st.sampled_from(["on", "true", "1", "", "off"])
    return {
        "provider": st.sampled_from([*sorted(p.name for p in BUILTIN), "nope"]),
        "operation_id": ops,
        "person_id": people,
        "person": people,
        "before": ops,
        "status": st.sampled_from([s.value for s in OpStatus]),
        "path": st.sampled_from(["app.js", "app.css", "../secret.key"]),
        "email": st.sampled_from([*filter(None, ROLES.values()), "other@beta.test"]),
        "password": st.sampled_from([PASSWORD, "a wrong guess"]),
        "org": st.sampled_from(["org1", "org2", ""]),
        "next": local,
        "back": local,
        "skip_backfill": on,
        "preserve_manual_edits": on,
        "create_missing_fields": on,
        "push_on_unlock": on,
        "conversations_enabled": on,
        "import_mode": st.sampled_from([m.value for m in ImportMode]),
        "export_mode": st.sampled_from([m.value for m in ExportMode]),
        "push_score_threshold": st.sampled_from(["", "50", "-1", "1e400", "nan", "1_0", "x"]),
        "direction": st.sampled_from(["import", "export", "sideways", ""]),
        "crm_id": st.sampled_from(["1", "999999", "x"]),
    }


def value_for(site: Site, name: str) -> st.SearchStrategy[str]:
    known = known_values(site).get(name)
    if name in NUMBERS:  # ids: as often out of any database's range as in it
        return st.one_of(known if known is not None else ANYTHING, HUGE, ANY_TEXT)
    return st.one_of(known, ANYTHING) if known is not None else ANYTHING


def some_of(site: Site, names: tuple[str, ...]) -> st.SearchStrategy[dict[str, str]]:
    """Any subset of ``names``, each with a known or random value, and a stray name or two."""
    picked = st.fixed_dictionaries({}, optional={n: value_for(site, n) for n in names})
    strays = st.dictionaries(ANY_TEXT.filter(bool), ANYTHING, max_size=2)
    return st.tuples(picked, strays).map(lambda both: {**both[1], **both[0]})


@dataclass(frozen=True)
class Example:
    role: str
    url: str
    form: dict[str, str]
    csrf: str  # right | wrong | missing | header
    body: str  # form | multipart | raw
    raw: bytes
    fetch: bool


def examples(site: Site, method: str, path: str) -> st.SearchStrategy[Example]:
    reads = site.reads[method, path]
    names = re.findall(r"{(\w+)}", path)
    path_values = st.fixed_dictionaries({name: value_for(site, name) for name in names})
    query_names = tuple(name for name in reads.query if name != EXTRA)
    form_names = tuple(name for name in reads.form if name not in (EXTRA, CSRF_FIELD))

    def url(values: dict[str, str], query: dict[str, str]) -> str:
        filled = path
        for name, value in values.items():
            filled = filled.replace(f"{{{name}}}", quote(value, safe="") or "x")
        pairs = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query.items())
        return f"{filled}?{pairs}" if pairs else filled

    return st.builds(
        Example,
        role=st.sampled_from(["admin", "admin", "member", "anonymous"]),
        url=st.builds(url, path_values, some_of(site, query_names)),
        form=some_of(site, form_names) if method == "POST" else st.just({}),
        csrf=st.sampled_from(["right", "right", "right", "header", "wrong", "missing"]),
        body=st.sampled_from(["form", "form", "form", "multipart", "raw"]),
        raw=st.binary(max_size=64),
        fetch=st.booleans(),
    )


def send(client: TestClient, token: str, method: str, example: Example) -> Any:
    headers = {"X-Requested-With": "fetch"} if example.fetch else {}
    if method == "GET":
        return client.get(example.url, headers=headers)
    form = dict(example.form)
    if example.csrf in ("right", "wrong"):
        form[CSRF_FIELD] = token if example.csrf == "right" else "not-the-token"
    elif example.csrf == "header":
        headers["X-CSRF-Token"] = token
    if example.body == "multipart":  # one field sent as a file, where text is expected
        files = {name: ("f.txt", value.encode(), "text/plain") for name, value in form.items()}
        first = next(iter(files), None)
        text = {k: v for k, v in form.items() if k != first}
        upload = {first: files[first]} if first else {"stray": ("f.txt", b"x", "text/plain")}
        return client.post(example.url, data=text, files=upload, headers=headers)
    if example.body == "raw":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return client.post(example.url, content=example.raw, headers=headers)
    return client.post(example.url, data=form, headers=headers)


# -- the fuzzing ----------------------------------------------------------------------------
def test_every_web_route_is_fuzzed(site: Site) -> None:
    assert set(site.reads) == set(ROUTES)


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_fuzz_web_route(site: Site, method: str, path: str) -> None:
    statuses: set[int] = set()
    reads = site.reads[method, path]
    declared = [n for n in (*reads.path, *reads.query, *reads.form) if n not in (EXTRA, CSRF_FIELD)]

    @settings(
        max_examples=EXAMPLES_PER_INPUT * (1 + len(declared)) + 6,
        deadline=None,
        database=None,
        derandomize=DERANDOMIZE,
        suppress_health_check=list(HealthCheck),
    )
    @given(example=examples(site, method, path))
    def fuzz(example: Example) -> None:
        client, token = site.session(example.role)  # signed in before the snapshot
        before = snapshot(site.w)
        r = send(client, token, method, example)
        statuses.add(r.status_code)
        what = f"{method} {example.url} as {example.role}: {r.status_code}"
        assert r.status_code < 500, f"{what} {r.text[:300]!r}"
        if 400 <= r.status_code < 500:
            if path not in ASSETS:  # an image's 404 needs no words
                assert r.text.strip(), f"{what} refused without saying why"
            after = snapshot(site.w)
            changed = sorted(t for t in after if after[t] != before[t])
            assert not changed, f"{what} was refused but wrote {changed}"
        if path in ("/signin", "/signout") and method == "POST":
            site.forget(example.role)
        site.reconnect_if_disconnected()

    fuzz()
    assert statuses, "no example ran"
