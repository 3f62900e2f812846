"""The OAuth apps an emulator knows: the CRM's own app for crmsync and those a customer
registers (its secret, its refresh-token policy), as the token endpoint checks them."""

from __future__ import annotations

import pytest

from crmsync.emulation import (
    ManualClock,
    OAuthApp,
    OAuthError,
    OAuthFailure,
    OAuthStore,
    RefreshPolicy,
)


def _store(clock: ManualClock) -> OAuthStore:
    return OAuthStore(app=OAuthApp("app", "app-secret"), access_token_ttl=60, clock=clock)


def test_a_customer_registered_app_authenticates_with_its_own_secret_only(
    clock: ManualClock,
) -> None:
    store = _store(clock)
    assert store.authenticates("app", "app-secret")
    assert not store.authenticates("acme-app", "acme-secret")
    store.register_app(OAuthApp("acme-app", "acme-secret"))
    assert store.authenticates("acme-app", "acme-secret")
    assert not store.authenticates("acme-app", "app-secret")
    assert not store.authenticates("app", "acme-secret")


def _grant_for(store: OAuthStore, client_id: str) -> str:
    code = store.issue_code(
        client_id=client_id,
        redirect_uri="https://app.test/cb",
        scopes=("contacts",),
        account_id="acct",
        user="admin@acme.test",
    )
    grant = store.exchange_code(code=code, client_id=client_id, redirect_uri="https://app.test/cb")
    return grant.refresh_token.token


def test_an_app_whose_refresh_tokens_expire_immediately_can_never_refresh(
    clock: ManualClock,
) -> None:
    store = _store(clock)
    store.register_app(OAuthApp("acme-app", "s", RefreshPolicy.IMMEDIATELY))
    token = _grant_for(store, "acme-app")
    with pytest.raises(OAuthError) as refused:
        store.refresh(refresh_token=token, client_id="acme-app")
    assert refused.value.failure is OAuthFailure.EXPIRED_REFRESH_TOKEN


def test_an_app_whose_refresh_tokens_expire_after_a_while_refreshes_until_then(
    clock: ManualClock,
) -> None:
    store = _store(clock)
    store.register_app(OAuthApp("acme-app", "s", RefreshPolicy.AFTER, refresh_ttl_seconds=3600))
    token = _grant_for(store, "acme-app")
    clock.advance(3599)
    assert store.refresh(refresh_token=token, client_id="acme-app")
    clock.advance(1)
    with pytest.raises(OAuthError) as refused:
        store.refresh(refresh_token=token, client_id="acme-app")
    assert refused.value.failure is OAuthFailure.EXPIRED_REFRESH_TOKEN
