"""The conformance suite's view of the HubSpot emulator (see ``crmsync.emulation.harness``).

Which contact property holds each person field is written out here, not taken from the
connector's mapping: the oracle shares no code with what it checks, so a wrong mapping fails
the suite.
"""

from __future__ import annotations

from typing import Any

import httpx

from crmsync.connectors.base import AppNames
from crmsync.emulation.harness import (
    CrmConversation,
    CrmRecord,
    HarnessControls,
    WebhookFaults,
)
from crmsync.providers.hubspot.emulator.app import create_app
from crmsync.providers.hubspot.emulator.config import HubSpotEmulatorConfig
from crmsync.providers.hubspot.emulator.state import HubSpotEmulator


def contact_properties(app: AppNames) -> dict[str, str]:
    """Person field → the HubSpot contact property crmsync keeps it in."""
    return {
        "person_id": f"{app.slug}_person_id",
        "profile_url": f"{app.slug}_profile_url",
        "first_name": "firstname",
        "last_name": "lastname",
        "email": "email",
        "phone": "phone",
        "company": "company",
        "title": "jobtitle",
        "city": "city",
        "state": "state",
        "zip": "zip",
        "country": "country",
        "linkedin_url": f"{app.slug}_linkedin_url",
        "owner": "hubspot_owner_id",
    }


WRITE_PREFIXES = ("POST /crm/v3/objects/contacts", "PATCH /crm/v3/objects/contacts")


def is_write_call(key: str) -> bool:
    """Creates, updates and batch writes of contacts; a search and a batch read are POSTs
    that write nothing."""
    return key.startswith(WRITE_PREFIXES) and not key.endswith(("/search", "/batch/read"))


class HubSpotHarness(HarnessControls):
    duplicate_email_outcome = "failed"
    consent_choices: dict[str, str] = {}
    extra_hosts: tuple[str, ...] = ()
    owner_fallback: str | None = None

    def __init__(
        self,
        served: bool = False,
        rate_limited: bool = True,
        app: AppNames | None = None,
    ) -> None:
        self.names = app or AppNames("Acme", "acme")
        self.config = HubSpotEmulatorConfig(rate_limit_enabled=rate_limited)
        self.app = create_app(self.config, served=served)
        self.emulator: HubSpotEmulator = self.app.state.emulator
        self.client_id = self.config.client_id
        self.client_secret = self.config.client_secret
        super().__init__(self.emulator, is_write_call)
        self.crm_field = contact_properties(self.names)

    def settings_for(self, base_url: str) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "api_base": base_url,
            "authorize_url": f"{base_url}/oauth/authorize",
            "token_url": f"{base_url}/oauth/v1/token",
            "record_url": "",
            "app_id": str(self.config.app_id),
        }

    def add_user(self, email: str, first_name: str, last_name: str) -> str:
        return self.emulator.add_owner(email, first_name, last_name)

    def records(self) -> list[CrmRecord]:
        owner = self.crm_field["owner"]
        return [
            CrmRecord(
                crm_id=contact.id,
                person_id=contact.properties.get(self.crm_field["person_id"]),
                values={
                    app_field: contact.properties.get(crm_field)
                    for app_field, crm_field in self.crm_field.items()
                },
                owner_id=contact.properties.get(owner) or None,
            )
            for contact in self.emulator.store.snapshot()
        ]

    def conversations(self) -> list[CrmConversation]:
        """The portal's notes, with the contact each is associated with (note to contact)."""
        return [
            CrmConversation(
                crm_id=note.id,
                contact_id=contact_id,
                text=note.properties.get("hs_note_body", ""),
                occurred_at=note.properties.get("hs_timestamp", ""),
            )
            for note in self.emulator.notes.notes.values()
            for contact_id in note.contact_ids or [""]
        ]

    def custom_field_names(self) -> set[str]:
        return {p.name for p in self.emulator.store.definitions().values() if not p.hubspot_defined}

    def manual_edit(self, crm_id: str, app_field: str, value: Any) -> None:
        self.emulator.store.update(crm_id, {self.crm_field[app_field]: value}, manual=True)

    def create_by_hand(self, values: dict[str, Any]) -> str:
        return self.emulator.store.create(
            {self.crm_field[field]: value for field, value in values.items()},
            self.emulator.store.admin_source,
        ).id

    def archive_by_hand(self, crm_id: str) -> None:
        """A CRM user deletes (archives) the record."""
        self.emulator.store.archive([crm_id], self.emulator.store.admin_source)

    def delete_by_hand(self, crm_id: str) -> None:
        """HubSpot's delete is an archive (``emulation.harness.DeletesByHand``)."""
        self.archive_by_hand(crm_id)

    def restore_by_hand(self, crm_id: str) -> None:
        self.emulator.store.restore(crm_id, self.emulator.store.admin_source)

    def merge_by_hand(self, survivor_id: str, merged_id: str) -> None:
        """A CRM user merges ``merged_id`` into ``survivor_id``."""
        self.emulator.store.merge(survivor_id, merged_id, self.emulator.store.admin_source)

    def subscribe_webhooks(self, target_url: str) -> dict[str, str]:
        """The app's subscriptions: creation, deletion, merge, restore, and a propertyChange
        for each property crmsync keeps a person field in (checked with the app's secret)."""
        changes = [("contact.propertyChange", name) for name in self.crm_field.values()]
        kinds = ("creation", "deletion", "merge", "restore")
        self.emulator.webhooks.configure(
            target_url, [*((f"contact.{kind}", None) for kind in kinds), *changes]
        )
        return {}

    def webhook_faults(self) -> WebhookFaults:
        return self.emulator.webhooks.faults

    async def deliver_webhooks(self, http: httpx.AsyncClient) -> int:
        return await self.emulator.webhooks.deliver(http)

    def set_search_lag(self, seconds: float, create_seconds: float | None = None) -> None:
        """Updates become searchable ``seconds`` later, creates ``create_seconds`` later (on
        the emulator's clock; HubSpot: ~60 s and ~10 s)."""
        self.emulator.store.set_search_lag(seconds, create_seconds)
