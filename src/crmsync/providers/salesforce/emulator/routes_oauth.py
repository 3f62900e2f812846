"""Salesforce's OAuth 2.0 web-server flow: the login + "Allow Access?" page, the token endpoint
(``instance_url``, ``id``, ``issued_at``, ``signature``; no ``expires_in``), revocation and the
identity URL.

The login form comes prefilled with the emulated admin's credentials, so a demo clicks through.
With rotation on (the default), every refresh returns a new refresh token and kills the old one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from crmsync.emulation import (
    ALLOW,
    DENY,
    EmulatedRoute,
    OAuthError,
    OAuthFailure,
    TokenGrant,
    consent_redirect,
)
from crmsync.emulation.oauth_routes import error_page, form_fields, form_text, given_fields
from crmsync.providers.salesforce.emulator.common import EmulatorDep
from crmsync.providers.salesforce.emulator.errors import not_found, oauth_error
from crmsync.providers.salesforce.emulator.policy import NEWEST_VERSION
from crmsync.providers.salesforce.emulator.state import SalesforceEmulator

BRAND = "#0176d3"
SCOPES = frozenset(
    {"api", "refresh_token", "offline_access", "full", "id", "profile", "email", "openid", "web"}
)
_FAILURES: dict[OAuthFailure, tuple[str, str]] = {
    OAuthFailure.UNKNOWN_CODE: ("invalid_grant", "invalid authorization code"),
    OAuthFailure.EXPIRED_CODE: ("invalid_grant", "expired authorization code"),
    OAuthFailure.CLIENT_MISMATCH: ("invalid_grant", "authentication failure"),
    OAuthFailure.REDIRECT_MISMATCH: (
        "redirect_uri_mismatch",
        "redirect_uri must match configuration",
    ),
    OAuthFailure.PKCE_VERIFIER_MISSING: ("invalid_grant", "invalid code verifier"),
    OAuthFailure.PKCE_VERIFIER_MISMATCH: ("invalid_grant", "invalid code verifier"),
    OAuthFailure.UNKNOWN_REFRESH_TOKEN: ("invalid_grant", "expired access/refresh token"),
    OAuthFailure.EXPIRED_REFRESH_TOKEN: ("invalid_grant", "expired access/refresh token"),
}
_HIDDEN = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)
LOGIN_ERROR = (
    "Please check your username and password. If you still can't log in, contact your "
    "Salesforce administrator."
)

router = APIRouter(route_class=EmulatedRoute, tags=["oauth"])


def _error_page(error: str, description: str) -> HTMLResponse:
    message = f"error={error}&error_description={description}"
    return error_page("Salesforce", "Remote Access Error", message, BRAND)


def _authorize_problem(emulator: SalesforceEmulator, params: dict[str, str]) -> HTMLResponse | None:
    if params.get("response_type") != "code":
        return _error_page("unsupported_response_type", "response type not supported")
    app = emulator.oauth.app(params.get("client_id", ""))
    if app is None:
        return _error_page("invalid_client_id", "client identifier invalid")
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri.startswith(("http://", "https://")) or not app.accepts_redirect(
        redirect_uri
    ):
        return _error_page("redirect_uri_mismatch", "redirect_uri must match configuration")
    method = params.get("code_challenge_method", "")
    if params.get("code_challenge") and method not in ("", "S256"):
        return _error_page("invalid_request", "unsupported code_challenge_method")
    return None


def _login_page(
    emulator: SalesforceEmulator, hidden: dict[str, str], error: str = ""
) -> HTMLResponse:
    """The login form and the connected app's "Allow Access?" choice, on one page."""
    config = emulator.config
    fields = "\n".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in hidden.items()
    )
    scopes = "".join(f"<li><code>{escape(s)}</code></li>" for s in hidden.get("scope", "").split())
    alert = f'<p role="alert" style="color:#c23934">{escape(error)}</p>' if error else ""
    html = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Login | Salesforce</title>
<style>body{{font-family:system-ui,sans-serif;background:#f3f2f2;margin:0}}
header{{background:{BRAND};color:#fff;padding:14px 24px;font-weight:600}}
main{{max-width:420px;margin:32px auto;background:#fff;border-radius:4px;padding:24px 32px}}
label{{display:block;margin-top:12px}}input[type=text],input[type=password]{{width:100%;padding:8px;box-sizing:border-box}}
button{{margin:16px 8px 0 0;padding:10px 18px;border-radius:4px;border:1px solid {BRAND}}}
button[value=allow]{{background:{BRAND};color:#fff}}</style></head>
<body><header>salesforce</header><main>
<h1>Allow Access?</h1>{alert}
<p><strong>{escape(config.app_name)}</strong> is asking to access your Salesforce org.</p>
<ul>{scopes}</ul>
<form method="post" action="/services/oauth2/authorize">
{fields}
<label for="username">Username</label>
<input type="text" id="username" name="username" value="{escape(config.admin_email)}">
<label for="password">Password</label>
<input type="password" id="password" name="password" value="{escape(config.admin_password)}">
<button type="submit" name="decision" value="{ALLOW}">Allow</button>
<button type="submit" name="decision" value="{DENY}">Deny</button>
</form></main></body></html>
"""
    return HTMLResponse(html)


@router.get("/services/oauth2/authorize", response_class=HTMLResponse)
def authorize_page(request: Request, emulator: EmulatorDep) -> HTMLResponse:
    params = dict(request.query_params)
    problem = _authorize_problem(emulator, params)
    if problem is not None:
        return problem
    return _login_page(emulator, given_fields(params, _HIDDEN))


@router.post("/services/oauth2/authorize", response_model=None)
async def authorize_decision(request: Request, emulator: EmulatorDep) -> Response:
    form = await request.form()
    params = form_fields(form, _HIDDEN)
    problem = _authorize_problem(emulator, params)
    if problem is not None:
        return problem
    hidden = given_fields(params, _HIDDEN)
    state = params["state"] or None
    if form_text(form, "decision") != ALLOW:
        url = consent_redirect(params["redirect_uri"], error="access_denied", state=state)
        return RedirectResponse(url + "&error_description=end-user+denied+authorization", 302)
    config = emulator.config
    username, password = form_text(form, "username"), form_text(form, "password")
    if username.lower() != config.admin_email.lower() or password != config.admin_password:
        return _login_page(emulator, hidden, LOGIN_ERROR)
    scopes = params["scope"].split() or ["api", "refresh_token"]
    if not set(scopes) <= SCOPES:
        url = consent_redirect(params["redirect_uri"], error="invalid_scope", state=state)
        return RedirectResponse(url, status_code=302)
    code = emulator.oauth.issue_code(
        client_id=params["client_id"],
        redirect_uri=params["redirect_uri"],
        scopes=scopes,
        account_id=emulator.org_id,
        user=emulator.admin_id,
        state=state,
        code_challenge=params["code_challenge"] or None,
        code_challenge_method=params["code_challenge_method"] or None,
    )
    url = consent_redirect(params["redirect_uri"], code=code, state=state)
    return RedirectResponse(url, status_code=302)


def _identity_url(request: Request, org_id: str, user_id: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/id/{org_id}/{user_id}"


def _grant_json(
    request: Request, emulator: SalesforceEmulator, grant: TokenGrant, with_refresh: bool
) -> dict[str, Any]:
    access = grant.access_token
    issued_at = str(int(emulator.config.clock() * 1000))
    identity = _identity_url(request, access.account_id, access.user)
    app = emulator.oauth.app(access.client_id)
    secret = app.client_secret if app is not None else ""
    digest = hmac.new(secret.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
    body: dict[str, Any] = {
        "access_token": access.token,
        "signature": base64.b64encode(digest).decode(),
        "scope": " ".join(access.scopes),
        "instance_url": emulator.config.instance_url,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued_at,
    }
    if with_refresh and {"refresh_token", "offline_access"} & set(access.scopes):
        body["refresh_token"] = grant.refresh_token.token
    return body


def _client_credentials(request: Request, form: FormData) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        decoded = base64.b64decode(header[6:]).decode()
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return form_text(form, "client_id"), form_text(form, "client_secret")


@router.post("/services/oauth2/token")
async def token(request: Request, emulator: EmulatorDep) -> JSONResponse:
    form = await request.form()
    client_id, secret = _client_credentials(request, form)
    if emulator.oauth.app(client_id) is None:
        return oauth_error("invalid_client_id", "client identifier invalid")
    if not emulator.oauth.authenticates(client_id, secret):
        return oauth_error("invalid_client", "invalid client credentials")
    grant_type = form_text(form, "grant_type")
    try:
        if grant_type == "authorization_code":
            grant = emulator.oauth.exchange_code(
                code=form_text(form, "code"),
                client_id=client_id,
                redirect_uri=form_text(form, "redirect_uri"),
                code_verifier=form_text(form, "code_verifier") or None,
            )
            return JSONResponse(_grant_json(request, emulator, grant, with_refresh=True))
        if grant_type == "refresh_token":
            grant = emulator.oauth.refresh(
                refresh_token=form_text(form, "refresh_token"), client_id=client_id
            )
            rotated = emulator.config.rotate_refresh_tokens
            return JSONResponse(_grant_json(request, emulator, grant, with_refresh=rotated))
    except OAuthError as exc:
        return oauth_error(*_FAILURES[exc.failure])
    return oauth_error("unsupported_grant_type", "grant type not supported")


@router.post("/services/oauth2/revoke", response_model=None)
async def revoke(request: Request, emulator: EmulatorDep) -> Response:
    form = await request.form()
    if not emulator.oauth.revoke_refresh_token(form_text(form, "token")):
        return oauth_error("invalid_token", "invalid token")
    return Response(status_code=200)


@router.get("/id/{org_id}/{user_id}")
def identity(org_id: str, user_id: str, request: Request, emulator: EmulatorDep) -> JSONResponse:
    if org_id != emulator.org_id:
        raise not_found()
    user = emulator.store.get("User", user_id)
    rest = f"{emulator.config.instance_url}/services/data/v{{version}}/"
    return JSONResponse(
        {
            "id": _identity_url(request, org_id, user["Id"]),
            "asserted_user": True,
            "user_id": user["Id"],
            "organization_id": org_id,
            "username": user["Username"],
            "nick_name": str(user["Username"]).split("@")[0],
            "display_name": user["Name"],
            "email": user["Email"],
            "active": user["IsActive"],
            "user_type": "STANDARD",
            "urls": {
                "rest": rest,
                "sobjects": rest + "sobjects/",
                "query": rest + "query/",
                "custom_domain": emulator.config.instance_url,
            },
            "is_app_installed": True,
            "last_modified_date": user["LastModifiedDate"],
            "api_version": f"{NEWEST_VERSION}.0",
        }
    )
