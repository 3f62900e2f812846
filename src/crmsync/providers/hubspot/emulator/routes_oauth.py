"""HubSpot's OAuth: the consent page (app.hubspot.com), the token endpoint and token metadata.

One host serves everything, so a connector pointed at the emulator uses the same paths it uses
against ``app.hubspot.com`` and ``api.hubapi.com``. Refresh tokens do not rotate.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from crmsync.emulation import (
    ALLOW,
    ConsentChoice,
    ConsentPage,
    EmulatedRoute,
    OAuthError,
    OAuthFailure,
    TokenGrant,
    TokenStatus,
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
from crmsync.providers.hubspot.emulator.common import EmulatorDep
from crmsync.providers.hubspot.emulator.errors import correlation_id, oauth_error
from crmsync.providers.hubspot.emulator.state import HubSpotEmulator

BRAND = "#ff7a59"
_FAILURES: dict[OAuthFailure, tuple[str, str]] = {
    OAuthFailure.UNKNOWN_CODE: ("BAD_AUTH_CODE", "missing or unknown auth code"),
    OAuthFailure.EXPIRED_CODE: ("EXPIRED_AUTH_CODE", "auth code is expired"),
    OAuthFailure.CLIENT_MISMATCH: ("BAD_CLIENT_ID", "missing or invalid client_id"),
    OAuthFailure.REDIRECT_MISMATCH: (
        "BAD_REDIRECT_URI",
        "redirect_uri does not match the one used to get the auth code",
    ),
    OAuthFailure.PKCE_VERIFIER_MISSING: ("BAD_CODE_VERIFIER", "missing code_verifier"),
    OAuthFailure.PKCE_VERIFIER_MISMATCH: (
        "BAD_CODE_VERIFIER",
        "code_verifier does not match the code_challenge",
    ),
    OAuthFailure.UNKNOWN_REFRESH_TOKEN: ("BAD_REFRESH_TOKEN", "missing or invalid refresh token"),
    OAuthFailure.EXPIRED_REFRESH_TOKEN: ("BAD_REFRESH_TOKEN", "missing or invalid refresh token"),
}
_AUTHORIZE_FIELDS = ("client_id", "redirect_uri", "scope", "state", "code_challenge")

router = APIRouter(route_class=EmulatedRoute, tags=["oauth"])


def _error_page(message: str) -> HTMLResponse:
    return error_page("HubSpot", "Authorization failed", message, BRAND)


def _authorize_problem(emulator: HubSpotEmulator, params: dict[str, str]) -> str | None:
    app = emulator.oauth.app(params.get("client_id", ""))
    if app is None:
        return f"Unknown app: no app has the client ID {params.get('client_id', '')!r}."
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri.startswith(("http://", "https://")):
        return "The redirect_uri parameter is missing or is not an http(s) URL."
    if not app.accepts_redirect(redirect_uri):
        return f"The redirect URL {redirect_uri!r} is not one of the app's redirect URLs."
    method = params.get("code_challenge_method", "")
    if params.get("code_challenge") and method not in ("", "S256", "plain"):
        return f"Unsupported code_challenge_method {method!r}."
    return None


def _account_label(emulator: HubSpotEmulator) -> str:
    return f"{emulator.config.hub_domain} (Hub ID {emulator.config.portal_id})"


@router.get("/oauth/authorize", response_class=HTMLResponse)
def authorize_page(request: Request, emulator: EmulatorDep) -> HTMLResponse:
    params = dict(request.query_params)
    problem = _authorize_problem(emulator, params)
    if problem:
        return _error_page(problem)
    hidden = given_fields(params, _AUTHORIZE_FIELDS)
    if params.get("code_challenge"):
        hidden["code_challenge_method"] = params.get("code_challenge_method") or "plain"
    page = ConsentPage(
        provider_name="HubSpot",
        app_name=emulator.config.app_name,
        action="/oauth/authorize",
        hidden=hidden,
        scopes=params.get("scope", "").split(),
        chooser_name="account",
        chooser_legend="Choose an account",
        choices=[ConsentChoice(emulator.account_id, _account_label(emulator))],
        brand_color=BRAND,
        notes=(f"Signed in as {emulator.config.admin_email}.",),
    )
    return HTMLResponse(render_consent_page(page))


@router.post("/oauth/authorize", response_model=None)
async def authorize_decision(request: Request, emulator: EmulatorDep) -> Response:
    form = await request.form()
    params = form_fields(form, (*_AUTHORIZE_FIELDS, "account", "code_challenge_method"))
    problem = _authorize_problem(emulator, params)
    if problem:
        return _error_page(problem)
    allowing = form_text(form, "decision") == ALLOW
    if allowing and params["account"] not in ("", emulator.account_id):  # one account
        return _error_page("Choose an account to connect.")
    return consent_decision(
        emulator.oauth, params, form, emulator.account_id, emulator.config.admin_email
    )


def _grant_json(grant: TokenGrant) -> dict[str, Any]:
    return {
        "token_type": "bearer",
        "refresh_token": grant.refresh_token.token,
        "access_token": grant.access_token.token,
        "expires_in": grant.expires_in,
    }


@router.post("/oauth/v1/token")
async def token(request: Request, emulator: EmulatorDep) -> JSONResponse:
    form = await request.form()
    client_id = form_text(form, "client_id")
    if not emulator.oauth.authenticates(client_id, form_text(form, "client_secret")):
        return oauth_error("BAD_CLIENT_ID", "missing or invalid client_id or client_secret")
    try:
        grant = run_grant(emulator.oauth, form, client_id)
    except UnsupportedGrant:
        return oauth_error(
            "BAD_GRANT_TYPE", "grant_type must be authorization_code or refresh_token"
        )
    except OAuthError as exc:
        return oauth_error(*_FAILURES[exc.failure])
    return JSONResponse(_grant_json(grant))


def _token_not_found(kind: str) -> JSONResponse:
    body = {"status": "error", "message": f"{kind} not found", "correlationId": correlation_id()}
    return JSONResponse(body, status_code=404)


def _user_id(emulator: HubSpotEmulator, email: str) -> int | None:
    return next((o.user_id for o in emulator.store.owner_list() if o.email == email), None)


@router.get("/oauth/v1/access-tokens/{token}")
def access_token_info(token: str, emulator: EmulatorDep) -> JSONResponse:
    status, access = emulator.oauth.check_access_token(token)
    if status is not TokenStatus.VALID or access is None:
        return _token_not_found("access token")
    return JSONResponse(
        {
            "token": access.token,
            "user": access.user,
            "hub_domain": emulator.config.hub_domain,
            "scopes": list(access.scopes),
            "hub_id": int(access.account_id),
            "app_id": emulator.config.app_id,
            "expires_in": emulator.oauth.seconds_left(access),
            "user_id": _user_id(emulator, access.user),
            "token_type": "access",
            "is_private_distribution": False,
        }
    )


@router.get("/oauth/v1/refresh-tokens/{token}")
def refresh_token_info(token: str, emulator: EmulatorDep) -> JSONResponse:
    refresh = emulator.oauth.get_refresh_token(token)
    if refresh is None:
        return _token_not_found("refresh token")
    return JSONResponse(
        {
            "token": refresh.token,
            "user": refresh.user,
            "hub_domain": emulator.config.hub_domain,
            "scopes": list(refresh.scopes),
            "hub_id": int(refresh.account_id),
            "client_id": refresh.client_id,
            "user_id": _user_id(emulator, refresh.user),
            "token_type": "refresh",
        }
    )


@router.delete("/oauth/v1/refresh-tokens/{token}", status_code=204, response_model=None)
def revoke_refresh_token(token: str, emulator: EmulatorDep) -> Response:
    if not emulator.oauth.revoke_refresh_token(token):
        return _token_not_found("refresh token")
    return Response(status_code=204)
