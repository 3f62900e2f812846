"""The parts every emulator's OAuth endpoints share: form fields, the error page, the consent
decision, and the two grants. Each provider keeps its own error bodies, token JSON and account
chooser."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, RedirectResponse

from crmsync.emulation.consent import ALLOW, consent_redirect, render_error_page
from crmsync.emulation.oauth import OAuthStore, TokenGrant

GRANT_TYPES = ("authorization_code", "refresh_token")


class UnsupportedGrant(Exception):
    """A token request whose grant_type is neither of the two the emulators issue."""


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def form_fields(form: FormData, names: Iterable[str]) -> dict[str, str]:
    """The named form fields as text (``""`` when absent), as a posted consent page sends them."""
    return {name: form_text(form, name) for name in names}


def given_fields(params: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """The named fields that have a value: the hidden inputs that carry an authorize request
    through the consent page."""
    return {name: params[name] for name in names if params.get(name)}


def error_page(provider_name: str, title: str, message: str, brand_color: str) -> HTMLResponse:
    """An authorize request the provider refuses: its HTML error page, with status 400."""
    return HTMLResponse(
        render_error_page(provider_name, title, message, brand_color), status_code=400
    )


def consent_decision(
    oauth: OAuthStore,
    params: Mapping[str, str],
    form: FormData,
    account_id: str,
    user: str,
) -> RedirectResponse:
    """Redirect back to the app: with a new code on "Allow", with ``access_denied`` else.

    ``params`` holds the authorize request's fields (client_id, redirect_uri, scope, state and,
    when PKCE is used, code_challenge and code_challenge_method)."""
    state = params.get("state") or None
    if form_text(form, "decision") != ALLOW:
        url = consent_redirect(params["redirect_uri"], error="access_denied", state=state)
        return RedirectResponse(url, status_code=302)
    code = oauth.issue_code(
        client_id=params["client_id"],
        redirect_uri=params["redirect_uri"],
        scopes=params.get("scope", "").split(),
        account_id=account_id,
        user=user,
        state=state,
        code_challenge=params.get("code_challenge") or None,
        code_challenge_method=params.get("code_challenge_method") or None,
    )
    return RedirectResponse(
        consent_redirect(params["redirect_uri"], code=code, state=state), status_code=302
    )


def run_grant(oauth: OAuthStore, form: FormData, client_id: str) -> TokenGrant:
    """Exchange a code or a refresh token; raises ``OAuthError`` or ``UnsupportedGrant``."""
    grant_type = form_text(form, "grant_type")
    if grant_type == "authorization_code":
        return oauth.exchange_code(
            code=form_text(form, "code"),
            client_id=client_id,
            redirect_uri=form_text(form, "redirect_uri"),
            code_verifier=form_text(form, "code_verifier") or None,
        )
    if grant_type == "refresh_token":
        return oauth.refresh(refresh_token=form_text(form, "refresh_token"), client_id=client_id)
    raise UnsupportedGrant(grant_type)
