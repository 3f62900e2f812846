"""The provider-neutral emulator toolkit: faults, limits, counters, OAuth, consent, controls."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

import crmsync.emulation as emulation
from crmsync.emulation import (
    ALL_FAULTS,
    SERVER_FAULTS,
    ConsentChoice,
    ConsentPage,
    EmulatedRoute,
    EmulatorControls,
    FaultInjector,
    FaultKind,
    ManualClock,
    OAuthApp,
    OAuthError,
    OAuthFailure,
    OAuthStore,
    RequestCounters,
    RouteInfo,
    SlidingWindowLimiter,
    TokenStatus,
    consent_redirect,
    create_control_router,
    install_policy,
    pkce_challenge,
    render_consent_page,
)


def test_package_exports_everything_it_lists() -> None:
    missing = [name for name in emulation.__all__ if not hasattr(emulation, name)]
    assert missing == []


# faults --------------------------------------------------------------------------------------


def test_faults_with_same_seed_repeat_the_same_sequence() -> None:
    def run() -> list[FaultKind | None]:
        injector = FaultInjector(seed=7)
        injector.configure(rates={"500": 0.2, "timeout_after": 0.2, "reset": 0.1})
        return [injector.decide().kind for _ in range(200)]

    first, second = run(), run()
    assert first == second
    assert {FaultKind.SERVER_ERROR, FaultKind.TIMEOUT_AFTER, FaultKind.RESET, None} == set(first)


def test_fault_rates_are_roughly_honoured_and_counted() -> None:
    injector = FaultInjector(seed=3)
    injector.configure(rates={"503": 0.25})
    kinds = [injector.decide().kind for _ in range(4000)]
    hits = kinds.count(FaultKind.UNAVAILABLE)
    assert 800 < hits < 1200
    assert injector.counts()["503"] == hits
    assert injector.counts()["500"] == 0


def test_only_allowed_kinds_are_drawn() -> None:
    injector = FaultInjector(seed=1)
    injector.configure(rates={"429": 0.5, "500": 0.5})
    kinds = {injector.decide(SERVER_FAULTS).kind for _ in range(200)}
    assert kinds == {FaultKind.SERVER_ERROR, None}
    assert {injector.decide(frozenset()).kind for _ in range(50)} == {None}


def test_burst_429_hits_the_next_requests_regardless_of_rates() -> None:
    injector = FaultInjector()
    injector.configure(burst_429=3)
    assert injector.decide(SERVER_FAULTS).kind is None  # 429 not allowed: burst untouched
    kinds = [injector.decide(ALL_FAULTS).kind for _ in range(5)]
    assert kinds == [FaultKind.RATE_LIMIT] * 3 + [None, None]
    assert injector.counts()["429"] == 3


@pytest.mark.parametrize(
    "rates", [{"500": 1.5}, {"500": 0.6, "503": 0.6}, {"nonsense": 0.1}], ids=str
)
def test_invalid_fault_rates_are_refused(rates: Mapping[str, float]) -> None:
    with pytest.raises(ValueError):
        FaultInjector().configure(rates=rates)


def test_reset_clears_rates_counts_and_burst() -> None:
    injector = FaultInjector()
    injector.configure(rates={"500": 1.0}, burst_429=2)
    injector.decide()
    injector.reset()
    assert injector.decide().kind is None
    assert injector.burst_remaining == 0
    assert sum(injector.counts().values()) == 0


@pytest.mark.anyio
async def test_in_process_network_faults_raise_what_httpx_raises() -> None:
    injector = FaultInjector()
    for kind, error in [
        ("reset", httpx.RemoteProtocolError),
        ("timeout_before", httpx.ReadTimeout),
    ]:
        injector.configure(rates={kind: 1.0})
        with pytest.raises(error):
            await injector.decide().fail_before_write()
    injector.configure(rates={"timeout_after": 1.0})
    decision = injector.decide()
    assert await decision.fail_before_write() is None
    with pytest.raises(httpx.ReadTimeout):
        await decision.lose_response(Response("done"))


# rate limits --------------------------------------------------------------------------------


def test_sliding_window_refuses_over_the_limit_then_recovers(clock: ManualClock) -> None:
    limiter = SlidingWindowLimiter(max_requests=3, interval_seconds=10, clock=clock)
    remaining = []
    for _ in range(3):
        decision = limiter.hit("portal")
        assert decision.allowed
        remaining.append(decision.remaining)
        clock.advance(1)
    assert remaining == [2, 1, 0]
    refused = limiter.hit("portal")
    assert not refused.allowed
    assert refused.remaining == 0
    assert refused.reset_seconds == pytest.approx(7)
    assert limiter.hit("other portal").allowed
    clock.advance(7)  # the first request leaves the window
    assert limiter.hit("portal").allowed
    assert not limiter.hit("portal").allowed


def test_disabled_limiter_allows_everything_and_can_be_reconfigured(clock: ManualClock) -> None:
    limiter = SlidingWindowLimiter(max_requests=1, interval_seconds=1, clock=clock)
    limiter.configure(enabled=False)
    assert all(limiter.hit("k").allowed for _ in range(10))
    limiter.configure(enabled=True, max_requests=2)
    assert [limiter.hit("k").allowed for _ in range(3)] == [True, True, False]
    with pytest.raises(ValueError):
        limiter.configure(interval_seconds=0)


# counters -----------------------------------------------------------------------------------


def test_counters_are_exact_under_concurrent_threads() -> None:
    counters = RequestCounters()

    def hammer() -> None:
        for _ in range(1000):
            counters.increment("post", "/things/{id}")

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counters.snapshot() == {"total": 8000, "by_endpoint": {"POST /things/{id}": 8000}}
    counters.reset()
    assert counters.total == 0


# oauth --------------------------------------------------------------------------------------


APP = OAuthApp("app", "app-secret")


def _store(clock: ManualClock, *, rotate: bool = False) -> OAuthStore:
    return OAuthStore(app=APP, access_token_ttl=60, rotate_refresh_tokens=rotate, clock=clock)


def _code(store: OAuthStore, **pkce: str) -> str:
    return store.issue_code(
        client_id="app",
        redirect_uri="https://app.test/cb",
        scopes=["read"],
        account_id="acct-1",
        user="u@example.com",
        state="s",
        **pkce,
    )


def test_code_exchange_gives_tokens_once(clock: ManualClock) -> None:
    store = _store(clock)
    code = _code(store)
    grant = store.exchange_code(code=code, client_id="app", redirect_uri="https://app.test/cb")
    assert grant.expires_in == 60
    assert grant.access_token.account_id == "acct-1"
    assert store.check_access_token(grant.access_token.token)[0] is TokenStatus.VALID
    with pytest.raises(OAuthError) as reused:
        store.exchange_code(code=code, client_id="app", redirect_uri="https://app.test/cb")
    assert reused.value.failure is OAuthFailure.UNKNOWN_CODE


@pytest.mark.parametrize("method", ["S256", "plain"])
def test_pkce_verifier_must_match_the_challenge(clock: ManualClock, method: str) -> None:
    store = _store(clock)
    verifier = "a-long-verifier-" * 4
    challenge = pkce_challenge(verifier, method)
    bad = _code(store, code_challenge=challenge, code_challenge_method=method)
    with pytest.raises(OAuthError) as wrong:
        store.exchange_code(
            code=bad, client_id="app", redirect_uri="https://app.test/cb", code_verifier="nope"
        )
    assert wrong.value.failure is OAuthFailure.PKCE_VERIFIER_MISMATCH
    good = _code(store, code_challenge=challenge, code_challenge_method=method)
    grant = store.exchange_code(
        code=good, client_id="app", redirect_uri="https://app.test/cb", code_verifier=verifier
    )
    assert grant.access_token.token


def test_code_checks_redirect_uri_and_expiry(clock: ManualClock) -> None:
    store = _store(clock)
    with pytest.raises(OAuthError) as mismatch:
        store.exchange_code(code=_code(store), client_id="app", redirect_uri="https://evil.test")
    assert mismatch.value.failure is OAuthFailure.REDIRECT_MISMATCH
    late = _code(store)
    clock.advance(store.code_ttl + 1)
    with pytest.raises(OAuthError) as expired:
        store.exchange_code(code=late, client_id="app", redirect_uri="https://app.test/cb")
    assert expired.value.failure is OAuthFailure.EXPIRED_CODE


def test_access_tokens_expire_and_refresh_without_rotation(clock: ManualClock) -> None:
    store = _store(clock)
    grant = store.exchange_code(
        code=_code(store), client_id="app", redirect_uri="https://app.test/cb"
    )
    clock.advance(61)
    assert store.check_access_token(grant.access_token.token)[0] is TokenStatus.EXPIRED
    again = store.refresh(refresh_token=grant.refresh_token.token, client_id="app")
    assert again.refresh_token.token == grant.refresh_token.token
    assert again.access_token.token != grant.access_token.token
    assert store.refresh(refresh_token=grant.refresh_token.token, client_id="app")


def test_rotating_refresh_retires_the_old_refresh_token(clock: ManualClock) -> None:
    store = _store(clock, rotate=True)
    grant = store.exchange_code(
        code=_code(store), client_id="app", redirect_uri="https://app.test/cb"
    )
    rotated = store.refresh(refresh_token=grant.refresh_token.token, client_id="app")
    assert rotated.refresh_token.token != grant.refresh_token.token
    with pytest.raises(OAuthError) as old:
        store.refresh(refresh_token=grant.refresh_token.token, client_id="app")
    assert old.value.failure is OAuthFailure.UNKNOWN_REFRESH_TOKEN
    assert store.refresh(refresh_token=rotated.refresh_token.token, client_id="app")


def test_revoke_and_expire_all(clock: ManualClock) -> None:
    store = _store(clock)
    grant = store.exchange_code(
        code=_code(store), client_id="app", redirect_uri="https://app.test/cb"
    )
    assert store.expire_access_tokens() == 1
    assert store.check_access_token(grant.access_token.token)[0] is TokenStatus.EXPIRED
    assert store.revoke_account("acct-1") == 2
    assert store.check_access_token(grant.access_token.token)[0] is TokenStatus.UNKNOWN
    with pytest.raises(OAuthError):
        store.refresh(refresh_token=grant.refresh_token.token, client_id="app")


# consent ------------------------------------------------------------------------------------


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.form: dict[str, str] = {}
        self.inputs: list[dict[str, str]] = []
        self.buttons: list[dict[str, str]] = []
        self.labels: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.form = values
        elif tag == "input":
            self.inputs.append(values)
        elif tag == "button":
            self.buttons.append(values)
        elif tag == "label":
            self.labels.append(values.get("for", ""))


def test_consent_page_is_a_real_form_with_escaped_hidden_fields() -> None:
    page = ConsentPage(
        provider_name="Acme CRM",
        app_name="crmsync",
        action="/oauth/authorize",
        hidden={"state": '"><script>alert(1)</script>', "client_id": "app"},
        scopes=["contacts.read"],
        chooser_name="account",
        choices=[ConsentChoice("a1", "Account one"), ConsentChoice("a2", "Account <two>")],
    )
    html = render_consent_page(page)
    assert "<script>" not in html
    form = _Form()
    form.feed(html)
    assert form.form == {"method": "post", "action": "/oauth/authorize"}
    hidden = {i["name"]: i["value"] for i in form.inputs if i["type"] == "hidden"}
    assert hidden == {"state": '"><script>alert(1)</script>', "client_id": "app"}
    radios = [i for i in form.inputs if i["type"] == "radio"]
    assert [r["value"] for r in radios] == ["a1", "a2"]
    assert "checked" in radios[0]
    assert sorted(form.labels) == sorted(r["id"] for r in radios)
    assert [(b["name"], b["value"]) for b in form.buttons] == [
        ("decision", "allow"),
        ("decision", "deny"),
    ]


def test_consent_redirect_keeps_existing_query() -> None:
    approved = consent_redirect("https://app.test/cb?x=1", code="c0de", state="s t")
    assert parse_qs(urlsplit(approved).query) == {"x": ["1"], "code": ["c0de"], "state": ["s t"]}
    denied = consent_redirect("https://app.test/cb", error="access_denied", state="s")
    assert parse_qs(urlsplit(denied).query) == {"error": ["access_denied"], "state": ["s"]}
    with pytest.raises(ValueError):
        consent_redirect("https://app.test/cb", state=None)


# the route pipeline and the control router ------------------------------------------------


class _Policy:
    """A minimal provider: every route may fault; requests need header ``x-key: ok``."""

    def __init__(self) -> None:
        self.counters = RequestCounters()
        self.faults = FaultInjector()
        self.writes: list[str] = []

    def fault_kinds(self, route: RouteInfo) -> frozenset[FaultKind]:
        return ALL_FAULTS

    def fault_response(self, kind: FaultKind, route: RouteInfo) -> Response:
        return JSONResponse({"fault": kind.value}, status_code=int(kind.value))

    def admit(self, request: Request, route: RouteInfo) -> Response | Mapping[str, str]:
        if request.headers.get("x-key") != "ok":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        return {"x-budget": "9"}


def _toolkit_app(clock: ManualClock) -> tuple[FastAPI, _Policy, EmulatorControls]:
    policy = _Policy()
    oauth = OAuthStore(app=APP, access_token_ttl=60, clock=clock)
    controls = EmulatorControls(
        faults=policy.faults,
        counters=policy.counters,
        rate_limiter=SlidingWindowLimiter(max_requests=5, interval_seconds=1, clock=clock),
        oauth=oauth,
        reset=policy.writes.clear,
    )
    router = APIRouter(route_class=EmulatedRoute)

    @router.post("/things/{name}")
    def write(name: str) -> dict[str, str]:
        policy.writes.append(name)
        return {"written": name}

    app = FastAPI()
    install_policy(app, policy)
    app.include_router(router)
    app.include_router(create_control_router(controls))
    return app, policy, controls


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://crm.test")


@pytest.mark.anyio
async def test_route_pipeline_counts_admits_and_adds_headers(clock: ManualClock) -> None:
    app, policy, _ = _toolkit_app(clock)
    async with _client(app) as client:
        refused = await client.post("/things/a")
        done = await client.post("/things/b", headers={"x-key": "ok"})
        counters = (await client.get("/_emulator/counters")).json()
    assert refused.status_code == 401
    assert done.json() == {"written": "b"}
    assert done.headers["x-budget"] == "9"
    assert policy.writes == ["b"]
    assert counters == {"total": 2, "by_endpoint": {"POST /things/{name}": 2}}


@pytest.mark.anyio
async def test_timeout_after_commits_then_loses_the_response(clock: ManualClock) -> None:
    app, policy, _ = _toolkit_app(clock)
    async with _client(app) as client:
        put = await client.put("/_emulator/faults", json={"rates": {"timeout_after": 1.0}})
        assert put.status_code == 200
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/things/lost", headers={"x-key": "ok"})
        faults = (await client.get("/_emulator/faults")).json()
    assert policy.writes == ["lost"]
    assert faults["injected"]["timeout_after"] == 1
    assert faults["rates"]["timeout_after"] == 1.0


@pytest.mark.anyio
async def test_control_routes_validate_and_drive_the_pieces(clock: ManualClock) -> None:
    app, policy, controls = _toolkit_app(clock)
    grant = controls.oauth.exchange_code(
        code=_code(controls.oauth), client_id="app", redirect_uri="https://app.test/cb"
    )
    async with _client(app) as client:
        bad = await client.put("/_emulator/faults", json={"rates": {"500": 0.9, "503": 0.9}})
        unknown = await client.put("/_emulator/faults", json={"rates": {"418": 0.1}})
        burst = await client.put("/_emulator/faults", json={"burst_429": 1, "seed": 5})
        limited = await client.post("/things/x", headers={"x-key": "ok"})
        limit = await client.put(
            "/_emulator/ratelimit", json={"enabled": False, "max_requests": 50}
        )
        expired = await client.post("/_emulator/tokens/expire")
        status_after_expire = controls.oauth.check_access_token(grant.access_token.token)[0]
        revoked = await client.post("/_emulator/tokens/revoke")
        await client.post("/things/y", headers={"x-key": "ok"})
        reset = await client.post("/_emulator/reset")
        counters = (await client.get("/_emulator/counters")).json()
    assert bad.status_code == 422 and unknown.status_code == 422
    assert burst.json()["burst_429_remaining"] == 1
    assert limited.status_code == 429 and limited.json() == {"fault": "429"}
    assert limit.json() == {"enabled": False, "max_requests": 50, "interval_seconds": 1.0}
    assert expired.json() == {"expired": 1}
    assert status_after_expire is TokenStatus.EXPIRED
    assert revoked.json() == {"revoked": 2}
    assert reset.status_code == 200
    assert policy.writes == []  # the provider's reset ran
    assert counters["total"] == 0


def test_manual_clock_moves_only_forward() -> None:
    clock = ManualClock(100.0)
    clock.advance(2.5)
    assert clock() == 102.5
    with pytest.raises(ValueError):
        clock.advance(-1)
