"""Browser sessions for organisation users: sign-in, roles, CSRF and the OAuth binding.

The session is a signed cookie (starlette's ``SessionMiddleware``, itsdangerous): HttpOnly,
SameSite=Lax, Secure when the public URL is https. It holds the user id, the user's session
generation, a CSRF token and a random *binding* that ties OAuth states started from this
browser to it. Every request re-reads the user, so a role change or a removed user takes
effect at once, and a cookie whose generation is no longer the user's (they signed out,
changed password or were disabled since) is signed out: a copied cookie dies with its
session instead of living out its ``MAX_AGE``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.middleware.sessions import SessionMiddleware

from crmsync.api.deps import RuntimeDep
from crmsync.browser import BINDING, new_binding
from crmsync.db.tables import User
from crmsync.domain.enums import Role
from crmsync.engine.runtime import Runtime
from crmsync.services.signin import end_session, live_user
from crmsync.settings import Settings

COOKIE = "crmsync_session"
MAX_AGE = 7 * 24 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class SignInRequired(Exception):
    """No signed-in user: pages redirect to the sign-in page, fetch calls get 401."""


class Forbidden(Exception):
    """Signed in, but not allowed (a member changing something, or a bad CSRF token)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class WebUser:
    id: str
    org_id: str
    org_name: str
    email: str
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


def session_secret(settings: Settings) -> str:
    """Derived from the (first) encryption key, so no extra secret needs configuring."""
    key = settings.resolved_encryption_key().split(",")[0].strip()
    return hmac.new(key.encode(), b"crmsync web session v1", hashlib.sha256).hexdigest()


def add_session_middleware(app: Any, settings: Settings) -> None:
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie=COOKIE,
        max_age=MAX_AGE,
        same_site="lax",
        https_only=settings.public_url.lower().startswith("https://"),
    )


def wants_json(request: Request) -> bool:
    return request.headers.get("x-requested-with") == "fetch" or request.headers.get(
        "accept", ""
    ).startswith("application/json")


# -- signing in and out ---------------------------------------------------------------------
def sign_in(request: Request, user: User) -> None:
    """A fresh session (no fixation): new CSRF token and OAuth binding."""
    request.session.clear()
    request.session.update(
        {
            "uid": user.id,
            "gen": user.session_generation,
            "csrf": secrets.token_urlsafe(32),
            BINDING: new_binding(),
        }
    )


def sign_out(request: Request, rt: Runtime) -> None:
    """Ends the session on the server too: the user's generation moves on, so a copy of this
    cookie is signed out as well (and so are the user's other browsers). A cookie already
    signed out changes nothing."""
    user_id, generation = request.session.get("uid"), request.session.get("gen")
    request.session.clear()
    if not user_id:
        return
    with rt.db.session() as session:
        end_session(session, user_id, generation)


def csrf_token(request: Request) -> str:
    """The session's CSRF token (anonymous sessions get one too, for the sign-in form)."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def flash(request: Request, kind: str, text: str) -> None:
    request.session["flash"] = [*request.session.get("flash", []), [kind, text]]


def pop_flashes(request: Request) -> list[tuple[str, str]]:
    return [(str(k), str(t)) for k, t in request.session.pop("flash", [])]


# -- dependencies ---------------------------------------------------------------------------
def current_user(request: Request, rt: RuntimeDep) -> WebUser:
    user_id = request.session.get("uid")
    if not user_id:
        raise SignInRequired()
    with rt.db.session() as session:
        live = live_user(session, user_id, request.session.get("gen"))
        if live is None:
            request.session.clear()
            raise SignInRequired()
        row, org = live
        return WebUser(row.id, row.org_id, org.name, row.email, row.name, row.role)


CurrentUser = Annotated[WebUser, Depends(current_user)]


async def check_csrf(request: Request) -> None:
    """Every state-changing request carries the session's token (form field or header)."""
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
    if not expected or not sent or not hmac.compare_digest(_utf8(str(expected)), _utf8(sent)):
        raise Forbidden("The form expired or came from another site. Reload the page and retry.")


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


CsrfChecked = Depends(check_csrf)


def require_admin(user: CurrentUser) -> WebUser:
    if not user.is_admin:
        raise Forbidden("Only an organisation admin can change integrations.")
    return user


AdminUser = Annotated[WebUser, Depends(require_admin)]

__all__ = [
    "COOKIE",
    "AdminUser",
    "CsrfChecked",
    "CurrentUser",
    "Forbidden",
    "SignInRequired",
    "WebUser",
]
