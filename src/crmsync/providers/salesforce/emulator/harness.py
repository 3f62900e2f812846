"""The conformance suite's view of the Salesforce emulator (see ``crmsync.emulation.harness``).

By default the org has the app's managed package installed (both Lead fields present), no
duplicate rule, and refresh-token rotation on. ``package_installed=False`` starts without the
fields, to exercise the setup step.

Which Lead field holds each person field is written out here, not taken from the connector's
mapping: the oracle shares no code with what it checks, so a wrong mapping fails the suite.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from crmsync.connectors.base import AppNames
from crmsync.emulation.harness import CrmConversation, CrmRecord, HarnessControls
from crmsync.providers.salesforce.emulator.app import create_app
from crmsync.providers.salesforce.emulator.config import SalesforceEmulatorConfig
from crmsync.providers.salesforce.emulator.harness_sales import SalesRecords
from crmsync.providers.salesforce.emulator.state import SalesforceEmulator
from crmsync.providers.salesforce.emulator.store import WriteContext

DATA = "/services/data/{version}"
WRITES = (
    f"PATCH {DATA}/composite/sobjects",
    f"POST {DATA}/composite/sobjects",
    f"POST {DATA}/sobjects/",
    f"PATCH {DATA}/sobjects/",
    f"PUT {DATA}/jobs/ingest/",
)


def is_write_call(key: str) -> bool:
    return key.startswith(WRITES)


INSTANCE_URL = SalesforceEmulatorConfig.instance_url
REQUIRED = {"LastName": "[not provided]", "Company": "[not provided]"}
"""What a Lead needs to be created, as crmsync fills it when the person has none."""


def lead_fields(app: AppNames) -> dict[str, str]:
    """Person field → the Lead field crmsync keeps it in (the package's fields are
    ``<App>_Person_ID__c`` and ``<App>_Profile_URL__c``)."""
    prefix = re.sub(r"[^A-Za-z0-9]+", "_", app.label).strip("_")
    return {
        "person_id": f"{prefix}_Person_ID__c",
        "profile_url": f"{prefix}_Profile_URL__c",
        "first_name": "FirstName",
        "last_name": "LastName",
        "email": "Email",
        "phone": "Phone",
        "company": "Company",
        "title": "Title",
        "city": "City",
        "state": "State",
        "zip": "PostalCode",
        "country": "Country",
        "owner": "OwnerId",
    }


def _sobject(crm_id: str) -> str:
    return {"003": "Contact", "001": "Account"}.get(crm_id[:3], "Lead")


class SalesforceHarness(HarnessControls):
    duplicate_email_outcome = "synced"
    consent_choices: dict[str, str] = {}
    extra_hosts: tuple[str, ...] = (urlsplit(INSTANCE_URL).hostname or "",)

    def __init__(
        self,
        served: bool = False,
        rate_limited: bool = True,
        app: AppNames | None = None,
        package_installed: bool = True,
    ) -> None:
        self.names = app or AppNames("Acme", "acme")
        self.crm_field = lead_fields(self.names)
        self.conversation_object = (
            self.crm_field["person_id"].removesuffix("_Person_ID__c") + "_Conversation__c"
        )
        fields = (self.crm_field["person_id"], self.crm_field["profile_url"])
        self.config = SalesforceEmulatorConfig(
            allocation_enabled=rate_limited,
            package_fields=fields if package_installed else (),
            package_objects=(self.conversation_object,) if package_installed else (),
        )
        self.app = create_app(self.config, served=served)
        self.emulator: SalesforceEmulator = self.app.state.emulator
        self.client_id = self.config.client_id
        self.client_secret = self.config.client_secret
        super().__init__(self.emulator, is_write_call)
        self.owner_fallback: str | None = self.emulator.admin_id
        self.sales = SalesRecords(self.emulator)
        """Accounts, Contacts, Opportunities, activities, stages, record types and queues."""

    def uninstall_package(self) -> None:
        """Start without the managed package: neither Lead field exists."""
        for name in self.config.package_fields:
            self.emulator.store.remove_field("Lead", name)

    def settings_for(self, base_url: str) -> dict[str, Any]:
        """Served at ``base_url``: tokens name it as the instance, so one port serves all."""
        self.config.instance_url = base_url
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "api_base": base_url,
            "authorize_url": f"{base_url}/services/oauth2/authorize",
            "token_url": f"{base_url}/services/oauth2/token",
        }

    def add_user(self, email: str, first_name: str, last_name: str) -> str:
        return self.emulator.add_user(email, first_name, last_name)

    def records(self) -> list[CrmRecord]:
        return [
            CrmRecord(
                crm_id=lead["Id"],
                person_id=lead.get(self.crm_field["person_id"]),
                values={app: lead.get(crm) for app, crm in self.crm_field.items()},
                owner_id=lead.get("OwnerId"),
            )
            for lead in self.emulator.records("Lead")
        ]

    def conversations(self) -> list[CrmConversation]:
        """The package object's records, by the Lead (or converted Contact) they look up."""
        return [
            CrmConversation(
                crm_id=row["Id"],
                contact_id=row.get("Lead__c") or row.get("Contact__c") or "",
                text=f"{row.get('Subject__c') or ''}\n{row.get('Body__c') or ''}",
                occurred_at=row.get("Occurred_At__c") or "",
            )
            for row in self.emulator.records(self.conversation_object)
        ]

    def custom_field_names(self) -> set[str]:
        lead = self.emulator.store.objects["Lead"]
        return {f.name for f in lead.fields.values() if f.custom}

    def _by_hand(self) -> WriteContext:
        """A CRM user's edit in the UI: not the user crmsync's connection writes as."""
        return WriteContext(self.emulator.crm_user(), manual=True)

    def manual_edit(self, crm_id: str, app_field: str, value: Any) -> None:
        self.emulator.store.update(
            _sobject(crm_id), crm_id, {self.crm_field[app_field]: value}, self._by_hand()
        )

    def crm_user_id(self) -> str:
        """Who the hand edits, deletes, merges and conversions are stamped with."""
        return self.emulator.crm_user()

    def delete_by_hand(self, crm_id: str) -> None:
        self.emulator.delete(_sobject(crm_id), crm_id)

    def restore_by_hand(self, crm_id: str) -> None:
        """Undelete from the recycle bin."""
        self.emulator.undelete(_sobject(crm_id), crm_id)

    def merge_by_hand(self, survivor: str, *merged: str) -> None:
        """A CRM user merges up to two Leads, Contacts or Accounts into ``survivor``
        (Salesforce merges three); the losers' children move to the survivor."""
        self.emulator.merge(_sobject(survivor), survivor, list(merged))

    def convert_by_hand(self, lead_id: str) -> str:
        """Convert a lead; returns the Contact it became."""
        return str(self.emulator.convert_lead(lead_id)["ConvertedContactId"])

    def advance_clock(self, seconds: float) -> None:
        self.emulator.clock.advance(seconds)

    def create_by_hand(self, values: dict[str, Any]) -> str:
        """A lead a user typed in: the UI insists on LastName and Company too."""
        fields = {self.crm_field[name]: value for name, value in values.items()}
        for required, placeholder in REQUIRED.items():
            fields.setdefault(required, placeholder)
        return str(self.emulator.store.create("Lead", fields, self._by_hand())["Id"])
