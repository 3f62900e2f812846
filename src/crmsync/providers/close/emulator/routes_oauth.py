"""Close's OAuth: the consent page (app.close.com/oauth2/authorize/), where the user picks the
organisation, and the token endpoint (api.close.com/oauth2/token/).

One host serves both, so a connector pointed at the emulator uses Close's own paths. The token
names the chosen organisation (``organization_id``) and the user; refresh tokens rotate unless
the config says otherwise (Close's behaviour is unconfirmed; crmsync saves each new one).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import FormData

from crmsync.emulation import (
    ALLOW,
    ConsentChoice,
    ConsentPage,
    EmulatedRoute,
    OAuthError,
    OAuthFailure,
    TokenGrant,
    render_consent_page,
)
from crmsync.emulation.oauth_routes import (
    UnsupportedGrant,
    consent_decision,
    error_page,
    form_fields,
    form_text,
    given_fields,
    run_grant,
)
from crmsync.providers.close.emulator.common import EmulatorDep
from crmsync.providers.close.emulator.errors import oauth_error
from crmsync.providers.close.emulator.state import CloseEmulator

BRAND = "#1463ff"
AUTHORIZE_PATH = "/oauth2/authorize/"
_FIELDS = ("client_id", "redirect_uri", "scope", "state", "response_type")
_FAILURES: dict[OAuthFailure, str] = {
    OAuthFailure.UNKNOWN_CODE: "The authorization code is invalid or was already used.",
    OAuthFailure.EXPIRED_CODE: "The authorization code has expired.",
    OAuthFailure.CLIENT_MISMATCH: "The code was issued to another client.",
    OAuthFailure.REDIRECT_MISMATCH: "redirect_uri does not match the authorization request.",
    OAuthFailure.PKCE_VERIFIER_MISSING: "code_verifier is required.",
    OAuthFailure.PKCE_VERIFIER_MISMATCH: "code_verifier does not match the code challenge.",
    OAuthFailure.UNKNOWN_REFRESH_TOKEN: "The refresh token is invalid, expired or revoked.",
    OAuthFailure.EXPIRED_REFRESH_TOKEN: "The refresh token is invalid, expired or revoked.",
}

router = APIRouter(route_class=EmulatedRoute, tags=["oauth"])


def _error_page(message: str) -> HTMLResponse:
    return error_page("Close", "Authorization failed", message, BRAND)


def _problem(emulator: CloseEmulator, params: dict[str, str]) -> str | None:
    app = emulator.oauth.app(params.get("client_id", ""))
    if app is None:
        return f"Unknown OAuth app: no app has the client ID {params.get('client_id', '')!r}."
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri.startswith(("http://", "https://")):
        return "The redirect_uri parameter is missing or is not an http(s) URL."
    if not app.accepts_redirect(redirect_uri):
        return f"redirect_uri {redirect_uri!r} is not registered for this OAuth app."
    if params.get("response_type", "code") not in ("", "code"):
        return "Only response_type=code is supported."
    return None


def _organizations(emulator: CloseEmulator) -> list[ConsentChoice]:
    admin = emulator.store.admin
    return [
        ConsentChoice(org_id, emulator.store.organizations[org_id].name)
        for org_id in admin.organizations
    ]


@router.get(AUTHORIZE_PATH, response_class=HTMLResponse)
def authorize_page(request: Request, emulator: EmulatorDep) -> HTMLResponse:
    params = dict(request.query_params)
    problem = _problem(emulator, params)
    if problem:
        return _error_page(problem)
    page = ConsentPage(
        provider_name="Close",
        app_name=emulator.config.app_name,
        action=AUTHORIZE_PATH,
        hidden=given_fields(params, _FIELDS),
        scopes=params.get("scope", "").split(),
        chooser_name="organization_id",
        chooser_legend="Choose an organization",
        choices=_organizations(emulator),
        brand_color=BRAND,
        notes=(f"Signed in as {emulator.config.admin_email}.",),
    )
    return HTMLResponse(render_consent_page(page))


@router.post(AUTHORIZE_PATH, response_model=None)
async def authorize_decision(request: Request, emulator: EmulatorDep) -> Response:
    form = await request.form()
    params = form_fields(form, (*_FIELDS, "organization_id"))
    problem = _problem(emulator, params)
    if problem:
        return _error_page(problem)
    organization = params["organization_id"]
    allowing = form_text(form, "decision") == ALLOW
    if allowing and organization not in {c.value for c in _organizations(emulator)}:
        return _error_page("Choose one of your organizations to connect.")
    return consent_decision(emulator.oauth, params, form, organization, emulator.config.admin_email)


def _client(request: Request, form: FormData) -> tuple[str, str]:
    """Client credentials from the form (client_secret_post) or Basic auth."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
            return client_id, secret
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
    return form_text(form, "client_id"), form_text(form, "client_secret")


def _grant_json(emulator: CloseEmulator, grant: TokenGrant) -> dict[str, Any]:
    access = grant.access_token
    user = emulator.store.user_by_email(access.user)
    return {
        "access_token": access.token,
        "token_type": "Bearer",
        "expires_in": grant.expires_in,
        "refresh_token": grant.refresh_token.token,
        "scope": " ".join(access.scopes),
        "user_id": user.id if user else None,
        "organization_id": access.account_id,
    }


@router.post("/oauth2/token/")
async def token(request: Request, emulator: EmulatorDep) -> JSONResponse:
    form = await request.form()
    client_id, secret = _client(request, form)
    if not emulator.oauth.authenticates(client_id, secret):
        return oauth_error("invalid_client", "Client authentication failed.", 401)
    try:
        grant = run_grant(emulator.oauth, form, client_id)
    except UnsupportedGrant as exc:
        return oauth_error("unsupported_grant_type", f"Unsupported grant_type {exc}.")
    except OAuthError as exc:
        return oauth_error("invalid_grant", _FAILURES[exc.failure])
    return JSONResponse(_grant_json(emulator, grant))
