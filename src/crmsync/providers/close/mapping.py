"""Person → Close Lead with one Contact: the default mapping and the payloads built from it.

The engine hands the connector a flat dict keyed by the CRM field names declared here. They are
logical names, translated to Close's nested payloads: ``contact.*`` go on the Contact, ``lead.*``
on its Lead (written when the Lead is created, never after), and ``custom.<Field Name>`` are
contact custom fields, resolved to their ``custom.cf_…`` ids once the fields exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crmsync.connectors.base import AppNames
from crmsync.connectors.spec import FieldSpec
from crmsync.domain.enums import System
from crmsync.domain.mapping import ValueKind

FIRST_NAME = "contact.first_name"
LAST_NAME = "contact.last_name"
CONTACT_FIELDS = {
    "contact.title": "title",
    "contact.emails": "emails",
    "contact.phones": "phones",
    "contact.urls": "urls",
}
LEAD_NAME = "lead.name"
ADDRESS_FIELDS = {
    "lead.addresses.city": "city",
    "lead.addresses.state": "state",
    "lead.addresses.zipcode": "zipcode",
    "lead.addresses.country": "country",
}
CUSTOM_PREFIX = "custom."
CUSTOM_ID = re.compile(r"cf_[A-Za-z0-9]+")
COUNTRY_CODE = re.compile(r"[A-Za-z]{2}")


def person_id_field(app: AppNames) -> str:
    return f"{app.label} Person ID"


def profile_url_field(app: AppNames) -> str:
    return f"{app.label} Profile URL"


def owner_field(app: AppNames) -> str:
    return f"{app.label} Owner"


def custom_fields(app: AppNames) -> list[dict[str, Any]]:
    """The contact custom fields crmsync creates on first sync (matched by name)."""
    return [
        {
            "name": person_id_field(app),
            "type": "text",
            "accepts_multiple_values": False,
            "description": f"The person's ID in {app.label}; crmsync finds contacts by it.",
        },
        {
            "name": profile_url_field(app),
            "type": "text",
            "accepts_multiple_values": False,
            "description": f"Link to the person's profile in {app.label}.",
        },
        {
            "name": owner_field(app),
            "type": "user",
            "accepts_multiple_values": False,
            "description": f"The Close user who unlocked the person in {app.label}.",
        },
    ]


def default_fields(app: AppNames) -> list[FieldSpec]:
    custom = CUSTOM_PREFIX
    lead_only = "on the Lead: written when the Lead is created, never updated"
    return [
        FieldSpec(
            "person_id",
            custom + person_id_field(app),
            "custom",
            kind=ValueKind.KEY,
            identity=True,
            note="match key",
        ),
        FieldSpec("profile_url", custom + profile_url_field(app), "custom", identity=True),
        FieldSpec("first_name", FIRST_NAME, "equivalent", note="joined into the Contact's name"),
        FieldSpec("last_name", LAST_NAME, "equivalent", note="joined into the Contact's name"),
        FieldSpec("email", None, "skipped", note="sent as the first of emails"),
        FieldSpec("emails", "contact.emails", "standard", note="all emails, type office"),
        FieldSpec("phone", None, "skipped", note="sent as the first of phones"),
        FieldSpec("phones", "contact.phones", "standard", note="all phones, type office"),
        FieldSpec("company", LEAD_NAME, "equivalent", note=f"names the Lead; {lead_only}"),
        FieldSpec("title", "contact.title", "standard"),
        FieldSpec("city", "lead.addresses.city", "standard", note=lead_only),
        FieldSpec("state", "lead.addresses.state", "standard", note=lead_only),
        FieldSpec("zip", "lead.addresses.zipcode", "standard", note=lead_only),
        FieldSpec(
            "country", "lead.addresses.country", "standard", note=f"ISO code only; {lead_only}"
        ),
        FieldSpec("linkedin_url", "contact.urls", "equivalent", note="the Contact's URL"),
        FieldSpec(
            "owner",
            custom + owner_field(app),
            "custom",
            kind=ValueKind.USER,
            source_of_truth=System.CRM,
            note="user field, by email",
        ),
    ]


@dataclass(frozen=True)
class Split:
    """One write's fields sorted by where they go in Close."""

    names: dict[str, Any] = field(default_factory=dict)  # "first" / "last" when given
    contact: dict[str, Any] = field(default_factory=dict)  # Close contact keys
    custom: dict[str, Any] = field(default_factory=dict)  # "<Field Name>" or "cf_…" → value
    lead: dict[str, Any] = field(default_factory=dict)  # "name" and address keys
    unknown: tuple[str, ...] = ()

    @property
    def touches_contact(self) -> bool:
        return bool(self.names or self.contact or self.custom)


def split_fields(fields: Mapping[str, Any]) -> Split:
    names: dict[str, Any] = {}
    contact: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    lead: dict[str, Any] = {}
    unknown: list[str] = []
    for name, value in fields.items():
        if name == FIRST_NAME:
            names["first"] = value
        elif name == LAST_NAME:
            names["last"] = value
        elif name in CONTACT_FIELDS:
            contact[CONTACT_FIELDS[name]] = _contact_value(CONTACT_FIELDS[name], value)
        elif name == LEAD_NAME:
            lead["name"] = value
        elif name in ADDRESS_FIELDS:
            lead[ADDRESS_FIELDS[name]] = value
        elif name.startswith(CUSTOM_PREFIX) and len(name) > len(CUSTOM_PREFIX):
            custom[name.removeprefix(CUSTOM_PREFIX)] = value
        else:
            unknown.append(name)
    return Split(names, contact, custom, lead, tuple(unknown))


def _as_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    items: Iterable[Any] = [value] if isinstance(value, str) else value
    return [str(item) for item in items if item not in (None, "")]


def _contact_value(key: str, value: Any) -> list[dict[str, str]] | str | None:
    if key == "emails":
        return [{"email": email, "type": "office"} for email in _as_list(value)]
    if key == "phones":
        return [{"phone": phone, "type": "office"} for phone in _as_list(value)]
    if key == "urls":
        return [{"url": url, "type": "url"} for url in _as_list(value)]
    return None if value is None else str(value)


def full_name(first: Any, last: Any) -> str | None:
    name = " ".join(str(part).strip() for part in (first, last) if part not in (None, ""))
    return name or None


def name_parts(name: str | None) -> tuple[str | None, str | None]:
    """Close keeps one name; crmsync wrote ``"first last"``, so the first space splits it."""
    first, _, last = (name or "").strip().partition(" ")
    return first or None, last.strip() or None


def address(lead: Mapping[str, Any]) -> dict[str, str] | None:
    """A Close address from the person's location; Close takes ISO country codes only."""
    parts = {key: str(lead[key]) for key in ("city", "state", "zipcode") if lead.get(key)}
    country = lead.get("country")
    if isinstance(country, str) and COUNTRY_CODE.fullmatch(country.strip()):
        parts["country"] = country.strip().upper()
    return {"label": "business", **parts} if parts else None


def lead_payload(lead: Mapping[str, Any], contact: dict[str, Any]) -> dict[str, Any]:
    """``POST /lead/``: named after the company when known, else after the person."""
    name = lead.get("name") or contact.get("name") or _first_email(contact)
    body: dict[str, Any] = {"contacts": [contact]}
    if name:
        body["name"] = str(name)
    location = address(lead)
    if location:
        body["addresses"] = [location]
    return body


def _first_email(contact: Mapping[str, Any]) -> str | None:
    emails = contact.get("emails") or []
    return str(emails[0]["email"]) if emails else None
