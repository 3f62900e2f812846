"""The conformance suite's view of the Close emulator (see ``crmsync.emulation.harness``).

One record per Contact in the first organisation; its ``owner_id`` is the owner custom field.
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
from crmsync.providers.close.emulator.app import create_app
from crmsync.providers.close.emulator.appview import AppView
from crmsync.providers.close.emulator.config import CloseEmulatorConfig
from crmsync.providers.close.emulator.eventlog import Actor
from crmsync.providers.close.emulator.harness_objects import CloseObjects
from crmsync.providers.close.emulator.state import CloseEmulator

WRITE_ENDPOINTS = (
    "POST /api/v1/lead/",
    "PUT /api/v1/lead/",
    "POST /api/v1/contact/",
    "PUT /api/v1/contact/",
    "POST /api/v1/activity/note/",
    "PUT /api/v1/activity/note/",
    "POST /api/v1/opportunity/",
    "PUT /api/v1/opportunity/",
    "POST /api/v1/activity/call/",
    "PUT /api/v1/activity/call/",
    "POST /api/v1/activity/email/",
    "PUT /api/v1/activity/email/",
    "POST /api/v1/task/",
    "PUT /api/v1/task/",
)


def is_write_call(key: str) -> bool:
    return key.startswith(WRITE_ENDPOINTS)


class CloseHarness(HarnessControls):
    duplicate_email_outcome = "synced"  # Close lets any number of contacts share an email
    consent_choices: dict[str, str] = {}
    extra_hosts: tuple[str, ...] = ()
    owner_fallback: str | None = None

    def __init__(
        self,
        served: bool = False,
        rate_limited: bool = True,
        app: AppNames | None = None,
    ) -> None:
        self.config = CloseEmulatorConfig(rate_limit_enabled=rate_limited)
        self.app = create_app(self.config, served=served)
        self.emulator: CloseEmulator = self.app.state.emulator
        self.client_id = self.config.client_id
        self.client_secret = self.config.client_secret
        super().__init__(self.emulator, is_write_call)
        self.objects = CloseObjects(self.emulator)
        """Opportunities, pipelines, activities and tasks, seeded and read in Close's terms."""
        self.view = AppView(
            self.emulator.store, self.emulator.organization_id, app or AppNames("Acme", "acme")
        )

    def settings_for(self, base_url: str) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "api_base": f"{base_url}/api/v1",
            "authorize_url": f"{base_url}/oauth2/authorize/",
            "token_url": f"{base_url}/oauth2/token/",
            "record_url": "",
        }

    def add_user(self, email: str, first_name: str, last_name: str) -> str:
        return self.emulator.add_user(email, first_name, last_name)

    def records(self) -> list[CrmRecord]:
        records = []
        for contact, lead in self.emulator.store.rows(self.emulator.organization_id):
            values = self.view.values(contact, lead)
            records.append(
                CrmRecord(
                    crm_id=str(contact["id"]),
                    person_id=values["person_id"],
                    values=values,
                    owner_id=values["owner"],
                )
            )
        return records

    def conversations(self) -> list[CrmConversation]:
        """The organisation's note activities, by the contact each is tied to."""
        org = self.emulator.organization_id
        return [
            CrmConversation(
                crm_id=n.id, contact_id=n.contact_id or "", text=n.note, occurred_at=n.activity_at
            )
            for n in self.emulator.notes.notes.values()
            if n.organization_id == org
        ]

    def custom_field_names(self) -> set[str]:
        return {f.name for f in self.emulator.store.custom_fields(self.emulator.organization_id)}

    def manual_edit(self, crm_id: str, app_field: str, value: Any) -> None:
        self.view.edit(crm_id, app_field, value)

    def create_by_hand(self, values: dict[str, Any]) -> str:
        return self.view.create(values)

    # Close users' other moves (Close has no undelete: no ``restore_by_hand``) ----------------

    def lead_of(self, contact_id: str) -> str:
        return self.emulator.store.lead_of(self.emulator.organization_id, contact_id)

    def delete_by_hand(self, crm_id: str) -> None:
        """A user deletes the contact (its lead stays)."""
        self.emulator.store.delete_contact(self.emulator.organization_id, crm_id)

    def delete_lead_by_hand(self, lead_id: str) -> None:
        """A user deletes a lead, and with it its contacts."""
        self.emulator.store.delete_lead(self.emulator.organization_id, lead_id)

    def move_by_hand(self, contact_id: str, lead_id: str) -> None:
        """A user moves a contact to another lead (``PUT /contact/{id}/ {"lead_id"}``)."""
        store = self.emulator.store
        store.update_contact(
            self.emulator.organization_id, contact_id, {"lead_id": lead_id}, store.admin.id
        )

    def merge_leads_by_hand(self, source_lead: str, destination_lead: str) -> None:
        """A user merges one lead into another (contacts move with their ids)."""
        store = self.emulator.store
        store.merge_leads(
            self.emulator.organization_id, source_lead, destination_lead, Actor(store.admin.id)
        )

    def subscribe_webhooks(self, target_url: str) -> dict[str, str]:
        """crmsync subscribed itself when it connected: its subscription is pointed at
        ``target_url`` (its own URL already, under the suite's public URL)."""
        hooks = self.emulator.webhooks
        with hooks.lock:
            for subscription in hooks.subscriptions.values():
                subscription.url = target_url
        return {}

    def webhook_faults(self) -> WebhookFaults:
        return self.emulator.webhooks.faults

    async def deliver_webhooks(self, http: httpx.AsyncClient) -> int:
        return await self.emulator.webhooks.deliver(http)

    def webhook_calls(self) -> list[tuple[str, bytes, dict[str, str]]]:
        """The queued deliveries as Close would send them (URL, body, signed headers), taken
        off the queue: the test posts them where it likes."""
        hooks = self.emulator.webhooks
        with hooks.lock:
            queued, hooks.queue = hooks.queue, []
        calls = []
        for delivery in queued:
            sub = hooks.subscriptions[delivery.subscription_id]
            body, headers = hooks.signed(delivery, sub)
            calls.append((sub.url, body, headers))
        return calls
