"""Provider-neutral OAuth 2.0 authorization-code machinery for emulators.

Issues auth codes (optionally PKCE-bound), access tokens with an expiry read from an injectable
clock, and refresh tokens that may rotate. It knows the OAuth apps registered with the CRM (the
CRM's own app for crmsync, and any a customer registers, each with its refresh-token policy).
Each provider maps :class:`OAuthFailure` to its own error bodies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class OAuthFailure(StrEnum):
    UNKNOWN_CODE = "unknown_code"
    EXPIRED_CODE = "expired_code"
    CLIENT_MISMATCH = "client_mismatch"
    REDIRECT_MISMATCH = "redirect_mismatch"
    PKCE_VERIFIER_MISSING = "pkce_verifier_missing"
    PKCE_VERIFIER_MISMATCH = "pkce_verifier_mismatch"
    UNKNOWN_REFRESH_TOKEN = "unknown_refresh_token"
    EXPIRED_REFRESH_TOKEN = "expired_refresh_token"


class RefreshPolicy(StrEnum):
    """How long an app's refresh tokens live (Salesforce names them in a connected app's
    "Refresh Token Policy"; other CRMs have one fixed policy)."""

    UNTIL_REVOKED = "until_revoked"
    IMMEDIATELY = "immediately"
    """Expire the refresh token at once: every refresh is refused."""
    AFTER = "after"
    """Expire the refresh token ``refresh_ttl_seconds`` after it was issued."""


@dataclass(frozen=True)
class OAuthApp:
    """An OAuth app registered with the CRM: its credentials and refresh-token policy."""

    client_id: str
    client_secret: str
    refresh_policy: RefreshPolicy = RefreshPolicy.UNTIL_REVOKED
    refresh_ttl_seconds: float | None = None
    redirect_uris: tuple[str, ...] = ()
    """The callback URLs registered with the app; empty: any (the CRM's demo app)."""

    def accepts_redirect(self, redirect_uri: str) -> bool:
        return not self.redirect_uris or redirect_uri in self.redirect_uris

    def refresh_expired(self, issued_at: float, now: float) -> bool:
        if self.refresh_policy is RefreshPolicy.IMMEDIATELY:
            return True
        if self.refresh_policy is RefreshPolicy.AFTER:
            return now - issued_at >= (self.refresh_ttl_seconds or 0.0)
        return False


class OAuthError(Exception):
    """A token request the store refused; ``failure`` says why."""

    def __init__(self, failure: OAuthFailure) -> None:
        super().__init__(failure.value)
        self.failure = failure


class TokenStatus(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    account_id: str
    user: str
    state: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float


@dataclass
class AccessToken:
    token: str
    client_id: str
    account_id: str
    user: str
    scopes: tuple[str, ...]
    expires_at: float


@dataclass
class RefreshToken:
    token: str
    client_id: str
    account_id: str
    user: str
    scopes: tuple[str, ...]
    issued_at: float = 0.0


@dataclass(frozen=True)
class TokenGrant:
    """What a successful token request returns; the provider renders it."""

    access_token: AccessToken
    refresh_token: RefreshToken
    expires_in: int


def pkce_challenge(verifier: str, method: str = "S256") -> str:
    """The code challenge a client derives from its verifier (RFC 7636)."""
    if method == "plain":
        return verifier
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _random_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class _Tables:
    codes: dict[str, AuthCode] = field(default_factory=dict)
    access: dict[str, AccessToken] = field(default_factory=dict)
    refresh: dict[str, RefreshToken] = field(default_factory=dict)


class OAuthStore:
    """In-memory apps, codes and tokens. Refresh tokens rotate only when
    ``rotate_refresh_tokens``; ``app`` is the CRM's own app for crmsync, registered first."""

    def __init__(
        self,
        *,
        app: OAuthApp,
        access_token_ttl: int,
        code_ttl: int = 600,
        rotate_refresh_tokens: bool = False,
        clock: Callable[[], float] = time.time,
        access_token_factory: Callable[[], str] = _random_token,
        refresh_token_factory: Callable[[], str] = _random_token,
    ) -> None:
        self._lock = threading.Lock()
        self._tables = _Tables()
        self._apps: dict[str, OAuthApp] = {app.client_id: app}
        self.access_token_ttl = access_token_ttl
        self.code_ttl = code_ttl
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self._clock = clock
        self._new_access = access_token_factory
        self._new_refresh = refresh_token_factory

    def register_app(self, app: OAuthApp) -> None:
        """A customer registers an app of their own (or changes its secret or policy)."""
        with self._lock:
            self._apps[app.client_id] = app

    def app(self, client_id: str) -> OAuthApp | None:
        with self._lock:
            return self._apps.get(client_id)

    def authenticates(self, client_id: str, client_secret: str) -> bool:
        """Whether these are a registered app's credentials."""
        app = self.app(client_id)
        return app is not None and hmac.compare_digest(
            app.client_secret.encode(), client_secret.encode()
        )

    def issue_code(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        scopes: Sequence[str],
        account_id: str,
        user: str,
        state: str | None = None,
        code_challenge: str | None = None,
        code_challenge_method: str | None = None,
    ) -> str:
        """A one-use authorization code for an approved consent."""
        method = (code_challenge_method or "plain") if code_challenge else None
        if method not in (None, "S256", "plain"):
            raise ValueError(f"unsupported code_challenge_method {code_challenge_method!r}")
        code = AuthCode(
            code=secrets.token_urlsafe(24),
            client_id=client_id,
            redirect_uri=redirect_uri,
            scopes=tuple(scopes),
            account_id=account_id,
            user=user,
            state=state,
            code_challenge=code_challenge or None,
            code_challenge_method=method,
            expires_at=self._clock() + self.code_ttl,
        )
        with self._lock:
            self._tables.codes[code.code] = code
        return code.code

    def exchange_code(
        self, *, code: str, client_id: str, redirect_uri: str, code_verifier: str | None = None
    ) -> TokenGrant:
        """Trade a code for tokens. The code is spent on any attempt, as with real providers."""
        with self._lock:
            issued = self._tables.codes.pop(code, None)
            if issued is None:
                raise OAuthError(OAuthFailure.UNKNOWN_CODE)
            if issued.expires_at <= self._clock():
                raise OAuthError(OAuthFailure.EXPIRED_CODE)
            if issued.client_id != client_id:
                raise OAuthError(OAuthFailure.CLIENT_MISMATCH)
            if issued.redirect_uri != redirect_uri:
                raise OAuthError(OAuthFailure.REDIRECT_MISMATCH)
            if issued.code_challenge is not None:
                if not code_verifier:
                    raise OAuthError(OAuthFailure.PKCE_VERIFIER_MISSING)
                expected = pkce_challenge(code_verifier, issued.code_challenge_method or "plain")
                if not hmac.compare_digest(expected, issued.code_challenge):
                    raise OAuthError(OAuthFailure.PKCE_VERIFIER_MISMATCH)
            refresh = RefreshToken(
                token=self._new_refresh(),
                client_id=issued.client_id,
                account_id=issued.account_id,
                user=issued.user,
                scopes=issued.scopes,
                issued_at=self._clock(),
            )
            self._tables.refresh[refresh.token] = refresh
            return self._grant(refresh)

    def refresh(self, *, refresh_token: str, client_id: str) -> TokenGrant:
        """A new access token; with rotation, a new refresh token too and the old one dies."""
        with self._lock:
            stored = self._tables.refresh.get(refresh_token)
            if stored is None:
                raise OAuthError(OAuthFailure.UNKNOWN_REFRESH_TOKEN)
            if stored.client_id != client_id:
                raise OAuthError(OAuthFailure.CLIENT_MISMATCH)
            app = self._apps.get(client_id)
            if app is None:
                raise OAuthError(OAuthFailure.CLIENT_MISMATCH)
            if app.refresh_expired(stored.issued_at, self._clock()):
                del self._tables.refresh[refresh_token]
                raise OAuthError(OAuthFailure.EXPIRED_REFRESH_TOKEN)
            if self.rotate_refresh_tokens:
                del self._tables.refresh[refresh_token]
                stored = RefreshToken(
                    token=self._new_refresh(),
                    client_id=stored.client_id,
                    account_id=stored.account_id,
                    user=stored.user,
                    scopes=stored.scopes,
                    issued_at=self._clock(),
                )
                self._tables.refresh[stored.token] = stored
            return self._grant(stored)

    def _grant(self, refresh: RefreshToken) -> TokenGrant:
        access = AccessToken(
            token=self._new_access(),
            client_id=refresh.client_id,
            account_id=refresh.account_id,
            user=refresh.user,
            scopes=refresh.scopes,
            expires_at=self._clock() + self.access_token_ttl,
        )
        self._tables.access[access.token] = access
        return TokenGrant(access, refresh, self.access_token_ttl)

    def check_access_token(self, token: str) -> tuple[TokenStatus, AccessToken | None]:
        """Whether an access token is valid, expired or unknown (revoked counts as unknown)."""
        with self._lock:
            stored = self._tables.access.get(token)
            if stored is None:
                return TokenStatus.UNKNOWN, None
            if stored.expires_at <= self._clock():
                return TokenStatus.EXPIRED, stored
            return TokenStatus.VALID, stored

    def seconds_left(self, token: AccessToken) -> int:
        return int(token.expires_at - self._clock())

    def get_refresh_token(self, token: str) -> RefreshToken | None:
        with self._lock:
            return self._tables.refresh.get(token)

    def revoke_refresh_token(self, token: str) -> bool:
        """Revoke one refresh token and the access tokens of its account and client."""
        with self._lock:
            stored = self._tables.refresh.pop(token, None)
            if stored is None:
                return False
            self._tables.access = {
                key: access
                for key, access in self._tables.access.items()
                if (access.account_id, access.client_id) != (stored.account_id, stored.client_id)
            }
            return True

    def revoke_account(self, account_id: str | None = None) -> int:
        """Revoke every token (of one account, or all): refresh is refused from now on."""
        with self._lock:
            before = len(self._tables.refresh) + len(self._tables.access)
            if account_id is None:
                self._tables.refresh.clear()
                self._tables.access.clear()
                return before
            self._tables.refresh = {
                k: v for k, v in self._tables.refresh.items() if v.account_id != account_id
            }
            self._tables.access = {
                k: v for k, v in self._tables.access.items() if v.account_id != account_id
            }
            return before - len(self._tables.refresh) - len(self._tables.access)

    def expire_access_tokens(self) -> int:
        """Make every access token expired now, so the next API call gets a 401."""
        with self._lock:
            now = self._clock()
            for access in self._tables.access.values():
                access.expires_at = min(access.expires_at, now)
            return len(self._tables.access)

    def reset(self) -> None:
        with self._lock:
            self._tables = _Tables()
