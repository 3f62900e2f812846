"""Where the CRM sends the admin back after authorising (in the popup)."""

from __future__ import annotations

import asyncio
import html
import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from crmsync.api.deps import RuntimeDep
from crmsync.api.schemas import text_problem
from crmsync.browser import session_binding
from crmsync.engine.runtime import Runtime
from crmsync.errors import ConnectorError, InputError
from crmsync.services import connections

router = APIRouter(tags=["oauth"])
DENIED = "access_denied"
"""OAuth's error for a user who declined on the consent page (RFC 6749, 4.1.2.1)."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:16px system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;
color:#1f2937}}h1{{font-size:1.4rem}}</style></head>
<body><main><h1>{title}</h1><p>{message}</p></main>
<script>
if (window.opener) {{
  window.opener.postMessage({payload}, window.location.origin);
  window.close();
}}
</script></body></html>"""


def _script_json(payload: dict[str, str]) -> str:
    """JSON that cannot end the <script> element it is embedded in."""
    text = json.dumps(payload)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _page(title: str, message: str, payload: dict[str, str], status: int) -> HTMLResponse:
    body = PAGE.format(
        title=html.escape(title),
        message=html.escape(message),
        payload=_script_json(payload),
    )
    return HTMLResponse(body, status_code=status)


@router.get(
    "/oauth/callback/{provider}",
    response_class=HTMLResponse,
    responses={
        code: {"description": description, "content": {"text/html": {}}}
        for code, description in (
            (409, "The organisation connected meanwhile, or another CRM account was authorised."),
            (422, "Unknown, used, expired or foreign state, or the authorisation was refused."),
            (502, "The CRM did not answer as expected."),
        )
    },
)
def oauth_callback(
    provider: str,
    request: Request,
    rt: RuntimeDep,
    state: str = "",
    code: str | None = None,
    error: str | None = None,
) -> HTMLResponse:
    binding = session_binding(request)  # the admin UI's browser session; None for the host API
    try:
        # Refused here, as this popup page, and not by the database (a NUL is a 500 there).
        for name, value in (
            ("provider", provider),
            ("state", state),
            ("code", code),
            ("error", error),
        ):
            problem = text_problem(value or "")
            if problem:
                raise InputError(f"{name} {problem}")
        conn = asyncio.run(
            connections.complete_authorization(rt, provider, state, code, error, binding)
        )
    except InputError as exc:
        if error == DENIED:
            message = _denied(rt, provider)
            payload = {"type": "crmsync:oauth", "ok": "false", "error": message, "denied": "1"}
            return _page("Access was not granted", message, payload, exc.status_code)
        payload = {"type": "crmsync:oauth", "ok": "false", "error": str(exc)}
        return _page("Could not connect", str(exc), payload, exc.status_code)
    except ConnectorError as exc:
        message = f"The CRM did not answer as expected: {exc}. Please try again."
        payload = {"type": "crmsync:oauth", "ok": "false", "error": message}
        return _page("Could not connect", message, payload, 502)
    name = rt.spec(provider).display_name
    payload = {"type": "crmsync:oauth", "ok": "true", "provider": provider, "status": conn.status}
    return _page(f"Connected to {name}", "You can close this window.", payload, 200)


def _denied(rt: Runtime, provider: str) -> str:
    """The consent page's "Deny" (``error=access_denied``), in words."""
    app = rt.settings.app_name
    name = rt.spec(provider).display_name if provider in rt.providers else "The CRM"
    return (
        f"{name} was not connected: access for {app} was declined on {name}'s consent page. "
        f"Nothing was changed. To connect, choose Connect again and allow access."
    )
