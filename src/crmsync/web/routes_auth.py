"""Sign-in and sign-out for organisation users."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from crmsync.api.deps import RuntimeDep
from crmsync.db.tables import Org
from crmsync.web.auth import CsrfChecked, authenticate, sign_in, sign_out
from crmsync.web.views import render

router = APIRouter(include_in_schema=False)
HOME = "/settings/integrations"


class Throttle:
    """At most ``limit`` failed sign-ins per email per ``window`` seconds (per process)."""

    def __init__(self, limit: int = 10, window: float = 900.0) -> None:
        self.limit, self.window = limit, window
        self.failures: defaultdict[str, deque[float]] = defaultdict(deque)
        self.lock = threading.Lock()

    def blocked(self, key: str) -> bool:
        with self.lock:
            recent = self.failures[key]
            while recent and recent[0] < time.monotonic() - self.window:
                recent.popleft()
            return len(recent) >= self.limit

    def fail(self, key: str) -> None:
        with self.lock:
            self.failures[key].append(time.monotonic())

    def clear(self, key: str) -> None:
        with self.lock:
            self.failures.pop(key, None)


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
    key = email.strip().lower()
    throttle: Throttle = request.app.state.signin_throttle
    context = {"next": safe_next(next), "email": email, "orgs": []}
    if throttle.blocked(key):
        error = "Too many failed attempts. Wait a few minutes, then try again."
        return render(request, rt, "signin.html", {**context, "error": error}, status_code=429)
    with rt.db.session() as session:
        users = authenticate(session, email, password) if email and password else []
        if org:
            users = [u for u in users if u.org_id == org]
        if not users:
            throttle.fail(key)
            error = "That email and password don't match an account."
            return render(request, rt, "signin.html", {**context, "error": error}, status_code=401)
        if len(users) > 1:
            orgs = [(u.org_id, session.get_one(Org, u.org_id).name) for u in users]
            choose = {**context, "orgs": orgs, "error": ""}
            return render(request, rt, "signin.html", choose)
        throttle.clear(key)
        sign_in(request, users[0])
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/signout", dependencies=[CsrfChecked])
def signout(request: Request, rt: RuntimeDep) -> RedirectResponse:
    sign_out(request, rt)
    return RedirectResponse("/signin", status_code=303)
