"""Sign-in and sign-out for organisation users."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from crmsync.api.deps import RuntimeDep
from crmsync.services.signin import matching_users, org_names
from crmsync.web.auth import CsrfChecked, sign_in, sign_out
from crmsync.web.views import render

router = APIRouter(include_in_schema=False)
HOME = "/settings/integrations"
WINDOW = 900.0  # seconds over which failed sign-ins are counted


class Throttle:
    """At most ``limit`` failures per key per ``window`` seconds (per process).

    Only failures take memory (checking a key adds nothing), and keys whose failures are all
    older than the window are swept once there are more than ``max_keys`` of them."""

    def __init__(
        self,
        limit: int,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.limit, self.window, self.clock, self.max_keys = limit, window, clock, max_keys
        self.failures: dict[tuple[str, ...], deque[float]] = {}
        self.lock = threading.Lock()

    def blocked(self, key: tuple[str, ...]) -> bool:
        with self.lock:
            recent = self.failures.get(key)
            if recent is None:
                return False
            self._forget_old(recent)
            return len(recent) >= self.limit

    def fail(self, key: tuple[str, ...]) -> None:
        with self.lock:
            if key not in self.failures and len(self.failures) >= self.max_keys:
                self._sweep()
            self.failures.setdefault(key, deque()).append(self.clock())

    def clear(self, key: tuple[str, ...]) -> None:
        with self.lock:
            self.failures.pop(key, None)

    def sweep(self) -> None:
        with self.lock:
            self._sweep()

    def _sweep(self) -> None:
        for key, recent in list(self.failures.items()):
            self._forget_old(recent)
            if not recent:
                del self.failures[key]

    def _forget_old(self, recent: deque[float]) -> None:
        while recent and recent[0] < self.clock() - self.window:
            recent.popleft()


class SignInThrottle:
    """Failed sign-ins, bounded three ways (per process, on ``app.state``).

    Per email *and* client address, and per client address, stop one address guessing one
    account or many. Keyed per email alone, ten wrong passwords from anywhere would lock the
    real user out, so that bound is much larger: it only caps guessing spread over many
    addresses. A successful sign-in clears its own email-and-address count only."""

    def __init__(
        self,
        per_pair: int = 10,
        per_address: int = 50,
        per_email: int = 100,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pair = Throttle(per_pair, window, clock)
        self.address = Throttle(per_address, window, clock)
        self.email = Throttle(per_email, window, clock)

    def blocked(self, email: str, address: str) -> bool:
        return (
            self.pair.blocked((email, address))
            or self.address.blocked((address,))
            or self.email.blocked((email,))
        )

    def fail(self, email: str, address: str) -> None:
        self.pair.fail((email, address))
        self.address.fail((address,))
        self.email.fail((email,))

    def succeeded(self, email: str, address: str) -> None:
        self.pair.clear((email, address))

    def sweep(self) -> None:
        for throttle in (self.pair, self.address, self.email):
            throttle.sweep()

    def size(self) -> int:
        """How many keys are remembered, over the three bounds."""
        return sum(len(t.failures) for t in (self.pair, self.address, self.email))


def client_address(request: Request) -> str:
    """The client's address (behind a proxy, the one it forwarded: see docs/operations.md)."""
    return request.client.host if request.client else "unknown"


def safe_next(target: str | None) -> str:
    """Only local paths: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return HOME
    return target


@router.get("/")
def home(request: Request) -> RedirectResponse:
    return RedirectResponse(HOME if request.session.get("uid") else "/signin", status_code=303)


@router.get("/signin")
def signin_page(request: Request, rt: RuntimeDep, next: str = HOME) -> Response:
    if request.session.get("uid"):
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, rt, "signin.html", {"next": safe_next(next), "email": "", "orgs": []})


@router.post("/signin", dependencies=[CsrfChecked])
def signin(
    request: Request,
    rt: RuntimeDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    org: Annotated[str, Form(max_length=64)] = "",
    next: Annotated[str, Form(max_length=500)] = HOME,
) -> Response:
    key, address = email.strip().lower(), client_address(request)
    throttle: SignInThrottle = request.app.state.signin_throttle
    context = {"next": safe_next(next), "email": email, "orgs": []}
    if throttle.blocked(key, address):
        error = "Too many failed attempts. Wait a few minutes, then try again."
        return render(request, rt, "signin.html", {**context, "error": error}, status_code=429)
    with rt.db.session() as session:
        users = matching_users(session, email, password) if email and password else []
        if org:
            users = [u for u in users if u.org_id == org]
        if not users:
            throttle.fail(key, address)
            error = "That email and password don't match an account."
            return render(request, rt, "signin.html", {**context, "error": error}, status_code=401)
        if len(users) > 1:
            names = org_names(session, [u.org_id for u in users])
            orgs = [(u.org_id, names[u.org_id]) for u in users]
            choose = {**context, "orgs": orgs, "error": ""}
            return render(request, rt, "signin.html", choose)
        throttle.succeeded(key, address)
        sign_in(request, users[0])
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/signout", dependencies=[CsrfChecked])
def signout(request: Request, rt: RuntimeDep) -> RedirectResponse:
    sign_out(request, rt)
    return RedirectResponse("/signin", status_code=303)
