"""What the conformance suite needs from a provider's emulator, in provider-neutral terms.

Each provider folder ships one harness class over its emulator's state, so the same suite runs
against every CRM: it reads records back as app fields, makes "manual" edits as a CRM user
would, and breaks authorisation on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import httpx

from crmsync.emulation.oauth import OAuthApp
from crmsync.emulation.state import ToolkitParts


@dataclass(frozen=True)
class CrmRecord:
    """A record as the suite sees it: CRM id and values keyed by app field names."""

    crm_id: str
    person_id: str | None
    values: dict[str, Any] = field(default_factory=dict)
    owner_id: str | None = None


class EmulatorHarness(Protocol):
    app: Any
    """The emulator's ASGI app."""

    duplicate_email_outcome: str
    """What the CRM does with a second record sharing an email: failed | skipped | synced."""

    consent_choices: dict[str, str]
    """Extra form values the consent page needs (e.g. which sub-account)."""

    client_id: str
    client_secret: str
    extra_hosts: tuple[str, ...]
    """Hosts the emulator answers besides those in the provider spec (e.g. an instance URL)."""

    owner_fallback: str | None
    """The owner a record gets when no CRM user matches (None: unassigned)."""

    def settings_for(self, base_url: str) -> dict[str, Any]:
        """Provider overrides that point crmsync at this emulator served at ``base_url``."""
        ...

    def add_user(self, email: str, first_name: str, last_name: str) -> str:
        """A CRM user who can own records; returns their CRM id."""
        ...

    def records(self) -> list[CrmRecord]: ...

    def custom_field_names(self) -> set[str]: ...

    def manual_edit(self, crm_id: str, app_field: str, value: Any) -> None:
        """A CRM user edits a field by hand (``owner`` reassigns the record)."""
        ...

    def create_by_hand(self, values: dict[str, Any]) -> str:
        """A record created in the CRM by a user (no Person ID); returns its id."""
        ...

    def write_calls(self) -> int:
        """How many record-writing API calls the emulator has answered."""
        ...

    def expire_access_tokens(self) -> None: ...

    def revoke_tokens(self) -> None: ...

    def register_app(self, app: OAuthApp) -> None:
        """A customer registers an OAuth app of their own with the CRM."""
        ...

    def set_faults(self, rates: dict[str, float], seed: int = 1) -> None: ...

    def faults_injected(self) -> dict[str, int]: ...


@dataclass(frozen=True)
class CrmConversation:
    """A conversation's CRM record as the suite sees it, read with the CRM's own field names
    (a HubSpot note's ``hs_note_body``, a Close activity's ``lead_id``)."""

    crm_id: str
    contact_id: str
    """The CRM id of the contact record it is linked to (a Salesforce Lead's, a Close
    contact's)."""
    text: str
    """Everything the record says in words: subject and body as the CRM keeps them."""
    occurred_at: str
    """Its time as the CRM stores it."""


@runtime_checkable
class HoldsConversations(Protocol):
    """A harness whose CRM holds the conversations crmsync exports (the conversation suite)."""

    def conversations(self) -> list[CrmConversation]: ...


@runtime_checkable
class DeletesByHand(Protocol):
    """A harness whose CRM users can delete a record and restore it (the inbound suite)."""

    def delete_by_hand(self, crm_id: str) -> None: ...

    def restore_by_hand(self, crm_id: str) -> None: ...


@runtime_checkable
class MergesByHand(Protocol):
    """A harness whose CRM users can merge two records (the inbound suite's merge tests)."""

    def merge_by_hand(self, survivor_id: str, merged_id: str, /) -> None:
        """``merged_id`` is merged into ``survivor_id``, which survives."""
        ...


@dataclass
class WebhookFaults:
    """What the CRM's next webhook deliveries do wrong, on a test's request."""

    drop: int = 0
    """Lose the next ``drop`` events (never sent, never retried)."""
    duplicate: bool = False
    """Send every call twice."""
    reverse: bool = False
    """Send the events due at one delivery newest first."""
    tamper: bool = False
    """Alter each call's body after it is signed (what an attacker in the middle would do)."""


@runtime_checkable
class SendsWebhooks(Protocol):
    """A harness whose CRM sends signed webhooks about contacts (the webhook suite)."""

    def subscribe_webhooks(self, target_url: str) -> dict[str, str]:
        """From now on, send every contact change the connector reads to ``target_url``, as
        the app's webhook settings in the CRM would (or crmsync's own subscription did).
        Returns the provider settings crmsync checks the calls with beyond the app's
        credentials (e.g. the emulator's own public key), to add to its overrides."""
        ...

    def webhook_faults(self) -> WebhookFaults:
        """The faults the next deliveries make; a test sets their fields."""
        ...

    async def deliver_webhooks(self, http: httpx.AsyncClient) -> int:
        """Send every call that is due through ``http``; returns the events accepted."""
        ...


class HarnessControls:
    """The harness methods that act only on the toolkit's pieces, so every CRM's harness has
    them from here; ``is_write`` says which counter keys (``"POST /path"``) write records."""

    def __init__(self, parts: ToolkitParts, is_write: Callable[[str], bool]) -> None:
        self._parts = parts
        self._is_write = is_write

    def write_calls(self) -> int:
        """How many record-writing API calls the emulator has answered."""
        counts = self._parts.counters.by_endpoint()
        return sum(n for key, n in counts.items() if self._is_write(key))

    def expire_access_tokens(self) -> None:
        self._parts.oauth.expire_access_tokens()

    def revoke_tokens(self) -> None:
        self._parts.oauth.revoke_account()

    def register_app(self, app: OAuthApp) -> None:
        self._parts.oauth.register_app(app)

    def set_faults(self, rates: dict[str, float], seed: int = 1) -> None:
        self._parts.faults.configure(rates=rates, seed=seed)

    def faults_injected(self) -> dict[str, int]:
        return {str(kind): int(n) for kind, n in self._parts.faults.counts().items()}
