"""The conformance suite's app-field view of Close data: read a Contact (and its Lead) back as
person fields, and turn an app-field edit into the change a Close user would make by hand.

Where Close keeps each person field is written out here, not taken from the connector's
mapping: the oracle shares no code with what it checks, so a wrong mapping fails the suite.

A Lead is named after the company when the person has one, otherwise after the person; so a Lead
whose name differs from its Contact's is read back as the company (a user who renamed the Lead
renamed the company, as far as the suite can tell).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crmsync.connectors.base import AppNames
from crmsync.providers.close.emulator.store import CloseStore

LEAD_ADDRESS = {"city": "city", "state": "state", "zip": "zipcode", "country": "country"}


class AppView:
    def __init__(self, store: CloseStore, org_id: str, app: AppNames) -> None:
        self.store = store
        self.org_id = org_id
        self.custom = {  # contact custom fields, by the names crmsync gives them
            "person_id": f"{app.label} Person ID",
            "profile_url": f"{app.label} Profile URL",
            "owner": f"{app.label} Owner",
        }

    def field_id(self, app_field: str) -> str | None:
        name = self.custom[app_field]
        found = (f.id for f in self.store.custom_fields(self.org_id) if f.name == name)
        return next(found, None)

    def values(self, contact: Mapping[str, Any], lead: Mapping[str, Any]) -> dict[str, Any]:
        first, last = _name_parts(contact.get("name"))
        emails = [e["email"] for e in contact.get("emails") or []]
        phones = [p["phone"] for p in contact.get("phones") or []]
        urls = [u["url"] for u in contact.get("urls") or []]
        address = (lead.get("addresses") or [{}])[0]
        lead_name = lead.get("name") or None
        values: dict[str, Any] = {
            "first_name": first,
            "last_name": last,
            "email": emails[0] if emails else None,
            "emails": emails,
            "phone": phones[0] if phones else None,
            "phones": phones,
            "title": contact.get("title") or None,
            "company": lead_name if lead_name != (contact.get("name") or None) else None,
            "linkedin_url": urls[0] if urls else None,
        }
        for app_field, key in LEAD_ADDRESS.items():
            values[app_field] = address.get(key)
        for app_field in self.custom:
            field_id = self.field_id(app_field)
            values[app_field] = contact.get(f"custom.{field_id}") if field_id else None
        return values

    def edit(self, contact_id: str, app_field: str, value: Any) -> None:
        """A user's edit in Close: on the Lead for company and address, else on the Contact."""
        admin = self.store.admin.id
        contact = self.store.get_contact(self.org_id, contact_id)
        lead_id = str(contact["lead_id"])
        if app_field == "company":
            self.store.update_lead(self.org_id, lead_id, {"name": value}, admin)
        elif app_field in LEAD_ADDRESS:
            lead = self.store.get_lead(self.org_id, lead_id)
            address = {**((lead.get("addresses") or [{}])[0]), LEAD_ADDRESS[app_field]: value}
            self.store.update_lead(self.org_id, lead_id, {"addresses": [address]}, admin)
        else:
            payload = self.contact_payload({app_field: value}, current=contact)
            self.store.update_contact(self.org_id, contact_id, payload, admin)

    def contact_payload(
        self, values: Mapping[str, Any], current: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        if "first_name" in values or "last_name" in values:
            first, last = _name_parts((current or {}).get("name"))
            parts = (values.get("first_name", first), values.get("last_name", last))
            payload["name"] = " ".join(str(p) for p in parts if p not in (None, "")) or None
        lists = {"email": "emails", "emails": "emails", "phone": "phones", "phones": "phones"}
        for app_field, key in lists.items():
            if app_field in values:
                item = key.removesuffix("s")
                payload[key] = [{item: v, "type": "office"} for v in _listed(values[app_field])]
        if "title" in values:
            payload["title"] = values["title"]
        if "linkedin_url" in values:
            payload["urls"] = [{"url": v, "type": "url"} for v in _listed(values["linkedin_url"])]
        for app_field in self.custom:
            field_id = self.field_id(app_field)
            if app_field in values and field_id:
                payload[f"custom.{field_id}"] = values[app_field]
        return payload

    def create(self, values: Mapping[str, Any]) -> str:
        """A Lead and Contact a user made in Close by hand; returns the contact id."""
        contact = self.contact_payload(values)
        lead = {"name": values.get("company") or contact.get("name"), "contacts": [contact]}
        created = self.store.create_lead(self.org_id, lead, self.store.admin.id)
        return str(created["contacts"][0]["id"])


def _name_parts(name: str | None) -> tuple[str | None, str | None]:
    """Close keeps one ``name``; a person's is "first last", split at the first space."""
    first, _, last = (name or "").strip().partition(" ")
    return first or None, last.strip() or None


def _listed(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
