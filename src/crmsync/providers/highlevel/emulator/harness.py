"""The conformance suite's view of the HighLevel emulator (see ``crmsync.emulation.harness``).

Records are the contacts of the location chosen on the chooselocation page (the first one until
a consent picks another), with values keyed by app field. Where HighLevel keeps each field is
written out here, not taken from the connector's mapping: the oracle shares no code with what
it checks, so a wrong mapping fails the suite.
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
from crmsync.providers.highlevel.emulator.app import create_app
from crmsync.providers.highlevel.emulator.config import HighLevelEmulatorConfig
from crmsync.providers.highlevel.emulator.records import ContactInput, StoredContact
from crmsync.providers.highlevel.emulator.state import HighLevelEmulator
from crmsync.providers.highlevel.emulator.webhooks import EVENT_TYPES

ATTRIBUTES = {
    "first_name": "firstName",
    "last_name": "lastName",
    "email": "email",
    "phone": "phone",
    "company": "companyName",
    "city": "city",
    "state": "state",
    "zip": "postalCode",
    "country": "country",
}
"""Person fields kept as contact attributes; the owner is ``assignedTo``."""


def custom_field_names(app: AppNames) -> dict[str, str]:
    """Person fields kept in contact custom fields, by the names crmsync gives those fields."""
    return {
        "person_id": f"{app.label} Person ID",
        "profile_url": f"{app.label} Profile URL",
        "linkedin_url": f"{app.label} LinkedIn URL",
        "title": f"{app.label} Job Title",
    }


WRITE_ENDPOINTS = frozenset(
    {
        "POST /contacts/",
        "PUT /contacts/{contactId}",
        "POST /contacts/upsert",
        "POST /contacts/{contactId}/notes",
        "PUT /contacts/{contactId}/notes/{id}",
    }
)


def is_write_call(key: str) -> bool:
    return key in WRITE_ENDPOINTS


class HighLevelHarness(HarnessControls):
    duplicate_email_outcome = "skipped"
    extra_hosts: tuple[str, ...] = ()
    owner_fallback: str | None = None

    def __init__(
        self,
        served: bool = False,
        rate_limited: bool = True,
        app: AppNames | None = None,
    ) -> None:
        self.names = app or AppNames("Acme", "acme")
        self.config = HighLevelEmulatorConfig(rate_limit_enabled=rate_limited)
        self.app = create_app(self.config, served=served)
        self.emulator: HighLevelEmulator = self.app.state.emulator
        self.client_id = self.config.client_id
        self.client_secret = self.config.client_secret
        super().__init__(self.emulator, is_write_call)
        self.consent_choices: dict[str, str] = {}
        """Set ``{"locationId": ...}`` to pick another sub-account on the page."""
        self.custom_names = custom_field_names(self.names)

    @property
    def location_id(self) -> str:
        return self.emulator.chosen_location_id or self.emulator.store.location_list()[0].id

    def settings_for(self, base_url: str) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "api_base": base_url,
            "authorize_url": f"{base_url}/oauth/chooselocation",
            "token_url": f"{base_url}/oauth/token",
            "record_url": "",
            # the emulator signs webhooks with its own key, not HighLevel's
            "webhook_public_key": self.emulator.webhooks.signer.public_key_pem,
        }

    def add_user(self, email: str, first_name: str, last_name: str) -> str:
        return self.emulator.store.add_user(email, first_name, last_name).id

    def _field_ids(self) -> dict[str, str]:
        """App field → id of its contact custom field in the location, once it exists."""
        by_name = {
            f.name: f.id for f in self.emulator.store.custom_fields(self.location_id, "contact")
        }
        return {app: by_name[name] for app, name in self.custom_names.items() if name in by_name}

    def _values(self, contact: StoredContact, field_ids: dict[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {
            app_field: contact.attributes.get(attribute)
            for app_field, attribute in ATTRIBUTES.items()
        }
        for app_field in self.custom_names:
            field_id = field_ids.get(app_field)
            values[app_field] = contact.custom.get(field_id) if field_id else None
        values["owner"] = contact.assigned_to
        return values

    def records(self) -> list[CrmRecord]:
        field_ids = self._field_ids()
        found = []
        for contact in self.emulator.store.snapshot(self.location_id):
            values = self._values(contact, field_ids)
            found.append(
                CrmRecord(
                    crm_id=contact.id,
                    person_id=values.get("person_id"),
                    values=values,
                    owner_id=contact.assigned_to,
                )
            )
        return found

    def conversations(self) -> list[CrmConversation]:
        """The location's contact notes: ``title`` and ``body`` as HighLevel keeps them, and
        ``dateAdded`` (a note has no date of its own)."""
        return [
            CrmConversation(
                crm_id=n.id,
                contact_id=n.contact_id,
                text=f"{n.title or ''}\n{n.body}",
                occurred_at=n.date_added,
            )
            for n in self.emulator.notes.notes.values()
            if n.location_id == self.location_id
        ]

    def custom_field_names(self) -> set[str]:
        return {f.name for f in self.emulator.store.custom_fields(self.location_id, "contact")}

    def _change(self, values: dict[str, Any]) -> ContactInput:
        field_ids = self._field_ids()
        change = ContactInput()
        for app_field, value in values.items():
            if app_field == "owner":
                change.assigned_to = value
            elif app_field in self.custom_names:
                change.custom[field_ids[app_field]] = "" if value is None else str(value)
            else:
                change.attributes[ATTRIBUTES[app_field]] = value
        return change

    def manual_edit(self, crm_id: str, app_field: str, value: Any) -> None:
        self.emulator.store.update_contact(
            self.location_id, crm_id, self._change({app_field: value})
        )

    def create_by_hand(self, values: dict[str, Any]) -> str:
        return self.emulator.store.create_contact(self.location_id, self._change(values)).id

    def delete_by_hand(self, crm_id: str) -> None:
        """A user deletes the contact in HighLevel (``emulation.harness.DeletesByHand``)."""
        self.emulator.store.delete_contact(self.location_id, crm_id)

    def archive_by_hand(self, crm_id: str) -> None:
        """HighLevel has no archive: a delete, restorable."""
        self.delete_by_hand(crm_id)

    def restore_by_hand(self, crm_id: str) -> None:
        self.emulator.store.restore_contact(self.location_id, crm_id)

    def subscribe_webhooks(self, target_url: str) -> dict[str, str]:
        """Every contact event to ``target_url``; crmsync checks them with the emulator's key."""
        self.emulator.webhooks.configure(target_url, frozenset(EVENT_TYPES), False)
        return {"webhook_public_key": self.emulator.webhooks.signer.public_key_pem}

    def webhook_faults(self) -> WebhookFaults:
        return self.emulator.webhooks.faults

    async def deliver_webhooks(self, http: httpx.AsyncClient) -> int:
        return await self.emulator.webhooks.deliver_async(http)

    def set_search_lag(self, seconds: float, create_seconds: float | None = None) -> None:
        """Writes become searchable ``seconds`` later (HighLevel: "a few seconds"; it does not
        say creates differ, so ``create_seconds`` is the same delay)."""
        self.emulator.store.set_index_delay(max(seconds, create_seconds or 0.0))
