"""HighLevel's OAuth: the chooselocation page (marketplace.gohighlevel.com) and the token
endpoint (services.leadconnectorhq.com/oauth/token).

The agency admin picks one sub-account on the page; the code, and every token after it, is
bound to that location. Refresh tokens rotate: each refresh returns a new one.
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
    render_consent_page,
)
from crmsync.emulation.oauth_routes import (
    consent_decision,
    error_page,
    form_fields,
    form_text,
    given_fields,
    run_grant,
)
from crmsync.providers.highlevel.emulator.common import EmulatorDep
from crmsync.providers.highlevel.emulator.errors import HighLevelError, unprocessable
from crmsync.providers.highlevel.emulator.state import HighLevelEmulator

BRAND = "#188bf6"
PAGE_PATH = "/oauth/chooselocation"
_AUTHORIZE_FIELDS = ("response_type", "client_id", "redirect_uri", "scope", "state")
# Bodies unconfirmed: HighLevel's token errors carry an OAuth ``error`` code with a message.
_FAILURES: dict[OAuthFailure, tuple[int, str, str]] = {
    OAuthFailure.UNKNOWN_CODE: (
        400,
        "invalid_grant",
        "Invalid grant: authorization code is invalid",
    ),
    OAuthFailure.EXPIRED_CODE: (400, "invalid_grant", "Invalid grant: authorization code expired"),
    OAuthFailure.CLIENT_MISMATCH: (401, "invalid_client", "Invalid client credentials"),
    OAuthFailure.REDIRECT_MISMATCH: (400, "invalid_grant", "redirect_uri does not match"),
    OAuthFailure.PKCE_VERIFIER_MISSING: (400, "invalid_grant", "code_verifier is missing"),
    OAuthFailure.PKCE_VERIFIER_MISMATCH: (400, "invalid_grant", "code_verifier is invalid"),
    OAuthFailure.UNKNOWN_REFRESH_TOKEN: (
        400,
        "invalid_grant",
        "Invalid grant: refresh token is invalid",
    ),
    OAuthFailure.EXPIRED_REFRESH_TOKEN: (
        400,
        "invalid_grant",
        "Invalid grant: refresh token is invalid",
    ),
}

router = APIRouter(route_class=EmulatedRoute, tags=["oauth"])


def _error_page(message: str) -> HTMLResponse:
    return error_page("HighLevel", "Something went wrong", message, BRAND)


def _authorize_problem(emulator: HighLevelEmulator, params: dict[str, str]) -> str | None:
    app = emulator.oauth.app(params.get("client_id", ""))
    if app is None:
        return f"No app has the client ID {params.get('client_id', '')!r}."
    if params.get("response_type", "code") != "code":
        return "response_type must be code."
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri.startswith(("http://", "https://")):
        return "The redirect_uri parameter is missing or is not an http(s) URL."
    if not app.accepts_redirect(redirect_uri):
        return f"The redirect URI {redirect_uri!r} is not one of the app's redirect URLs."
    return None


@router.get(PAGE_PATH, response_class=HTMLResponse)
def choose_location_page(request: Request, emulator: EmulatorDep) -> HTMLResponse:
    params = dict(request.query_params)
    problem = _authorize_problem(emulator, params)
    if problem:
        return _error_page(problem)
    page = ConsentPage(
        provider_name="HighLevel",
        app_name=emulator.config.app_name,
        action=PAGE_PATH,
        hidden=given_fields(params, _AUTHORIZE_FIELDS),
        scopes=params.get("scope", "").split(),
        chooser_name="locationId",
        chooser_legend="Choose a sub-account",
        choices=[
            ConsentChoice(loc.id, f"{loc.name} ({loc.city}, {loc.state})")
            for loc in emulator.store.location_list()
        ],
        brand_color=BRAND,
        notes=(f"Signed in as {emulator.config.admin_email} of {emulator.config.company_name}.",),
    )
    return HTMLResponse(render_consent_page(page))


@router.post(PAGE_PATH, response_model=None)
async def choose_location(request: Request, emulator: EmulatorDep) -> Response:
    form = await request.form()
    params = form_fields(form, (*_AUTHORIZE_FIELDS, "locationId"))
    problem = _authorize_problem(emulator, params)
    if problem:
        return _error_page(problem)
    location_id = params["locationId"]
    if form_text(form, "decision") == ALLOW:
        if location_id not in {loc.id for loc in emulator.store.location_list()}:
            return _error_page("Choose a sub-account of your agency.")
        emulator.chosen_location_id = location_id
    return consent_decision(emulator.oauth, params, form, location_id, emulator.config.admin_email)


def _grant_json(emulator: HighLevelEmulator, grant: TokenGrant) -> dict[str, Any]:
    return {
        "access_token": grant.access_token.token,
        "token_type": "Bearer",
        "expires_in": grant.expires_in,
        "refresh_token": grant.refresh_token.token,
        "scope": " ".join(grant.access_token.scopes),
        "userType": "Location",
        "locationId": grant.access_token.account_id,
        "companyId": emulator.config.company_id,
        "userId": emulator.admin_id,
        "isBulkInstallation": False,
    }


def _token_error(status: int, error: str, message: str) -> JSONResponse:
    return HighLevelError(status, message, error=error).response()


@router.post("/oauth/token")
async def token(request: Request, emulator: EmulatorDep) -> JSONResponse:
    form = await request.form()
    client_id = form_text(form, "client_id")
    if not emulator.oauth.authenticates(client_id, form_text(form, "client_secret")):
        return _token_error(401, "invalid_client", "Invalid client credentials")
    grant_type = form_text(form, "grant_type")
    if grant_type not in ("authorization_code", "refresh_token"):
        return unprocessable(
            ["grant_type must be one of the following values: authorization_code, refresh_token"]
        ).response()
    if form_text(form, "user_type") not in ("", "Location"):
        return _token_error(400, "invalid_request", "This app installs on sub-accounts only")
    try:
        grant = run_grant(emulator.oauth, form, client_id)
    except OAuthError as exc:
        return _token_error(*_FAILURES[exc.failure])
    return JSONResponse(_grant_json(emulator, grant))
