"""OAuth 2.0 authorization-code flow for any provider, from its OAuthSpec (authlib)."""

from __future__ import annotations

import time
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client

from crmsync.connectors.http import tls_context
from crmsync.connectors.spec import ProviderSpec
from crmsync.domain.outcomes import Action, Resolution
from crmsync.errors import InputError, TransientError, reconnect_required


class OAuthFlow:
    """Builds authorize URLs and exchanges/refreshes tokens against the provider's endpoints."""

    def __init__(
        self,
        spec: ProviderSpec,
        redirect_uri: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.spec = spec
        self.redirect_uri = redirect_uri
        self.transport = transport
        self.timeout = timeout

    def _client(self) -> AsyncOAuth2Client:
        oauth = self.spec.oauth
        return AsyncOAuth2Client(
            client_id=self.spec.client_id,
            client_secret=self.spec.client_secret,
            scope=" ".join(oauth.scopes),
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256" if oauth.pkce else None,
            token_endpoint_auth_method=oauth.token_endpoint_auth_method,
            transport=self.transport,
            verify=tls_context(),
            timeout=self.timeout,
        )

    def authorization_url(self, state: str) -> tuple[str, str | None]:
        """The URL to send the user to, and the PKCE verifier to keep until the callback."""
        verifier = generate_token(64) if self.spec.oauth.pkce else None
        client = self._client()
        url, _ = client.create_authorization_url(
            self.spec.oauth.authorize_url,
            state=state,
            code_verifier=verifier,
            **self.spec.oauth.extra_authorize_params,
        )
        return str(url), verifier

    async def exchange(self, code: str, code_verifier: str | None) -> dict[str, Any]:
        async with self._client() as client:
            try:
                token = await client.fetch_token(
                    self.spec.oauth.token_url,
                    code=code,
                    code_verifier=code_verifier,
                    grant_type="authorization_code",
                    **self.spec.oauth.extra_token_params,
                )
            except httpx.HTTPError as exc:
                raise TransientError(
                    Resolution(Action.RETRY, f"token endpoint unreachable: {exc}")
                ) from exc
            except Exception as exc:  # authlib raises OAuthError subclasses
                raise InputError(f"the CRM refused the authorisation code: {exc}") from exc
        return _checked(dict(token), refused=InputError)

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        """New tokens; ``ReconnectRequired`` when the CRM refuses the refresh token."""
        async with self._client() as client:
            try:
                token = await client.refresh_token(
                    self.spec.oauth.token_url,
                    refresh_token=refresh_token,
                    **self.spec.oauth.extra_token_params,
                )
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code >= 500:
                    raise TransientError(
                        Resolution(Action.RETRY, "token endpoint had a server error")
                    ) from exc
                raise reconnect_required(f"the CRM refused the refresh token: {exc}") from exc
            except httpx.HTTPError as exc:
                raise TransientError(
                    Resolution(Action.RETRY, f"token endpoint unreachable: {exc}")
                ) from exc
            except Exception as exc:  # authlib OAuthError: invalid_grant and friends
                raise reconnect_required(f"the CRM refused the refresh token: {exc}") from exc
        token = _checked(dict(token), refused=None)
        token.setdefault("refresh_token", refresh_token)  # providers that do not rotate
        return token


def _checked(token: dict[str, Any], refused: type[InputError] | None) -> dict[str, Any]:
    """authlib hands back error bodies without an ``error`` key as if they were tokens."""
    if "access_token" not in token:
        message = str(token.get("message") or token.get("error_description") or token)
        if refused is not None:
            raise refused(f"the CRM refused the authorisation code: {message}")
        raise reconnect_required(f"the CRM refused the refresh token: {message}")
    if "expires_in" in token and "expires_at" not in token:
        token["expires_at"] = int(time.time()) + int(token["expires_in"])
    return token
