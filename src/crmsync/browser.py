"""What the host API and the admin UI share of a browser session: the OAuth binding.

The admin UI signs a user in with a random *binding* in their session cookie; an OAuth
authorisation started from that browser records it, and the CRM's redirect back to the host
API's callback must come from the same browser (``services.connections`` compares them).
Both sides read it here, so the host API never imports the admin UI.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request

BINDING = "bind"
"""The session key of the OAuth binding."""


def new_binding() -> str:
    return secrets.token_urlsafe(32)


def session_binding(request: Request) -> str | None:
    """The browser session's OAuth binding (None outside a browser session, e.g. host API)."""
    if "session" not in request.scope:
        return None
    value = request.session.get(BINDING)
    return str(value) if value else None
