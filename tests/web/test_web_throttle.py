"""The sign-in throttle: guessing is bounded, and guessing cannot lock the real user out.

Failures are counted per email and client address, per client address and per email. The
first two stop one address guessing (one account, or many); only the third, much larger,
bound applies across addresses, so an attacker elsewhere cannot lock the user out with ten
wrong passwords, while guessing spread over many addresses stays bounded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crmsync.web.routes_auth import SignInThrottle
from tests.support.world import World, world
from tests.web.test_web_server import PASSWORD, csrf

VICTIM = "admin@acme.test"


@pytest.fixture
def w(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    with world(sqlite_url, tmp_path, "hubspot") as instance:
        instance.org("org1")
        body = {"id": "u-admin", "email": VICTIM, "role": "admin", "password": PASSWORD}
        assert instance.api.post("/api/v1/orgs/org1/users", json=body).status_code == 201
        yield instance


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def small(w: World, clock: Clock | None = None) -> SignInThrottle:
    """Smaller bounds than the defaults, so each property takes a few requests."""
    throttle = SignInThrottle(per_pair=3, per_address=5, per_email=8, clock=clock or Clock())
    w.api.app.state.signin_throttle = throttle
    return throttle


def attempt(w: World, address: str, email: str, password: str = "a wrong guess") -> int:
    """One sign-in from ``address``: 303 signed in, 401 refused, 429 throttled."""
    client = TestClient(w.api.app, follow_redirects=False, client=(address, 40000))
    body = {"email": email, "password": password, "csrf_token": csrf(client)}
    return client.post("/signin", data=body).status_code


def test_the_defaults_are_the_documented_numbers(w: World) -> None:
    throttle = w.api.app.state.signin_throttle
    assert isinstance(throttle, SignInThrottle)
    assert (throttle.pair.limit, throttle.address.limit, throttle.email.limit) == (10, 50, 100)
    assert throttle.pair.window == throttle.address.window == throttle.email.window == 900


def test_ten_wrong_passwords_from_elsewhere_do_not_lock_the_user_out(w: World) -> None:
    """With the default bounds: the attacker's address is throttled, the user's is not."""
    codes = [attempt(w, "203.0.113.9", VICTIM) for _ in range(11)]
    assert codes == [401] * 10 + [429]
    assert attempt(w, "198.51.100.7", VICTIM, PASSWORD) == 303


def test_one_address_guessing_one_account_is_throttled(w: World) -> None:
    small(w)
    codes = [attempt(w, "203.0.113.9", VICTIM) for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert attempt(w, "203.0.113.9", VICTIM, PASSWORD) == 429  # even the right password
    assert attempt(w, "198.51.100.7", VICTIM, PASSWORD) == 303


def test_one_address_guessing_many_accounts_is_throttled(w: World) -> None:
    small(w)
    codes = [attempt(w, "203.0.113.9", f"guess{n}@acme.test") for n in range(5)]
    assert codes == [401] * 5
    assert attempt(w, "203.0.113.9", VICTIM, PASSWORD) == 429  # the address is throttled
    assert attempt(w, "198.51.100.7", VICTIM, PASSWORD) == 303  # other addresses are not


def test_guessing_one_account_from_many_addresses_is_still_bounded(w: World) -> None:
    small(w)
    codes = [attempt(w, f"203.0.113.{n}", VICTIM) for n in range(8)]
    assert codes == [401] * 8
    assert attempt(w, "203.0.113.200", VICTIM) == 429
    assert attempt(w, "198.51.100.7", VICTIM, PASSWORD) == 429  # the bound on guessing
    assert attempt(w, "198.51.100.7", "other@acme.test") == 401  # other accounts: unaffected


def test_signing_in_clears_only_the_users_own_count(w: World) -> None:
    throttle = small(w)
    for _ in range(2):
        assert attempt(w, "198.51.100.7", VICTIM) == 401
    assert attempt(w, "198.51.100.7", VICTIM, PASSWORD) == 303
    for _ in range(2):  # a fresh count for this email from this address: 2 of 3
        assert attempt(w, "198.51.100.7", VICTIM) == 401
    assert not throttle.blocked(VICTIM, "198.51.100.7")
    assert attempt(w, "198.51.100.7", "other@acme.test") == 401
    # the address's count was not reset: 2 + 2 + 1 failures reach per_address (5)
    assert throttle.blocked(VICTIM, "198.51.100.7")
    assert not throttle.blocked(VICTIM, "198.51.100.8")


def test_failures_are_forgotten_after_the_window(w: World) -> None:
    clock = Clock()
    small(w, clock)
    for _ in range(3):
        assert attempt(w, "203.0.113.9", VICTIM) == 401
    assert attempt(w, "203.0.113.9", VICTIM, PASSWORD) == 429
    clock.now += 901
    assert attempt(w, "203.0.113.9", VICTIM, PASSWORD) == 303


def test_the_throttle_keeps_no_entry_for_addresses_only_checked() -> None:
    """Checking is free: only failures take memory, and stale ones are swept."""
    clock = Clock()
    throttle = SignInThrottle(clock=clock)
    for n in range(100):
        assert not throttle.blocked(f"u{n}@acme.test", f"203.0.113.{n}")
    assert throttle.size() == 0
    throttle.fail(VICTIM, "203.0.113.9")
    assert throttle.size() == 3  # the pair, the address and the email
    clock.now += 901
    throttle.sweep()
    assert throttle.size() == 0
