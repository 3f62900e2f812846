"""Person → Salesforce Lead: the default mapping, the two custom fields, and record bodies.

Lead requires LastName and Company; a person without them gets Salesforce's own
``[not provided]`` convention (what Web-to-Lead and the import wizard write). A converted
lead is followed to its Contact, whose fields carry the same values under Contact names.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from crmsync.connectors.base import AppNames
from crmsync.connectors.spec import FieldSpec
from crmsync.domain.enums import System
from crmsync.domain.mapping import ValueKind
from crmsync.domain.writes import ConversationWrite, RecordWrite

NOT_PROVIDED = "[not provided]"
REQUIRED = ("LastName", "Company")
LENGTHS = {
    "FirstName": 40,
    "LastName": 80,
    "Company": 255,
    "Title": 128,
    "Phone": 40,
    "City": 40,
    "State": 80,
    "PostalCode": 20,
    "Country": 80,
}
"""Lead's standard text lengths: longer values are cut rather than refused."""
CONTACT_FIELDS = {
    "FirstName": "FirstName",
    "LastName": "LastName",
    "Email": "Email",
    "Phone": "Phone",
    "Title": "Title",
    "City": "MailingCity",
    "State": "MailingState",
    "PostalCode": "MailingPostalCode",
    "Country": "MailingCountry",
    "OwnerId": "OwnerId",
}
"""Lead field → the Contact field a conversion moves it to (Company has none)."""


def api_prefix(app: AppNames) -> str:
    """``Acme Corp`` → ``Acme_Corp``: letters, digits and single underscores."""
    return re.sub(r"[^A-Za-z0-9]+", "_", app.label).strip("_")


def person_id_field(app: AppNames) -> str:
    return f"{api_prefix(app)}_Person_ID__c"


def conversation_object(app: AppNames) -> str:
    """The package's custom object for conversations, ``<App>_Conversation__c``."""
    return f"{api_prefix(app)}_Conversation__c"


def conversation_id_field(app: AppNames) -> str:
    """Its external ID: the app's conversation id."""
    return f"{api_prefix(app)}_Conversation_ID__c"


def conversation_values(write: ConversationWrite) -> dict[str, Any]:
    """The object's fields for a conversation, looking up the Lead (or the Contact a
    converted lead became)."""
    lookup = "Contact__c" if write.contact_object == "Contact" else "Lead__c"
    return {
        lookup: write.contact_crm_id,
        "Name": (write.subject or f"{write.channel} {write.direction}")[:80],
        "Channel__c": write.channel,
        "Direction__c": write.direction,
        "Subject__c": write.subject[:255],
        "Body__c": write.body,
        "Occurred_At__c": write.occurred_at,
    }


def profile_url_field(app: AppNames) -> str:
    return f"{api_prefix(app)}_Profile_URL__c"


def custom_fields(app: AppNames) -> list[dict[str, Any]]:
    """Tooling API ``CustomField`` bodies for the two Lead fields the managed package has."""
    return [
        {
            "FullName": f"Lead.{person_id_field(app)}",
            "Metadata": {
                "label": f"{app.label} Person ID",
                "type": "Text",
                "length": 255,
                "externalId": True,
                "unique": True,
                "caseSensitive": True,
                "description": f"The person's ID in {app.label}; crmsync upserts leads by it.",
            },
        },
        {
            "FullName": f"Lead.{profile_url_field(app)}",
            "Metadata": {
                "label": f"{app.label} Profile URL",
                "type": "Url",
                "description": f"Link to the person's profile in {app.label}.",
            },
        },
    ]


def default_fields(app: AppNames) -> list[FieldSpec]:
    return [
        FieldSpec(
            "person_id",
            person_id_field(app),
            "custom",
            kind=ValueKind.KEY,
            identity=True,
            note="external ID (unique)",
        ),
        FieldSpec("profile_url", profile_url_field(app), "custom", identity=True),
        FieldSpec("first_name", "FirstName", "standard"),
        FieldSpec("last_name", "LastName", "standard", note=f"required: {NOT_PROVIDED} if none"),
        FieldSpec("email", "Email", "standard", note="the person's first email"),
        FieldSpec("emails", None, "skipped", note="a Lead has one Email field"),
        FieldSpec("phone", "Phone", "standard", note="the person's first phone"),
        FieldSpec("phones", None, "skipped", note="a Lead has one Phone field"),
        FieldSpec("company", "Company", "standard", note=f"required: {NOT_PROVIDED} if none"),
        FieldSpec("title", "Title", "standard"),
        FieldSpec("city", "City", "standard"),
        FieldSpec("state", "State", "standard"),
        FieldSpec("zip", "PostalCode", "standard"),
        FieldSpec("country", "Country", "standard"),
        FieldSpec("linkedin_url", None, "skipped", note="Lead has no LinkedIn field"),
        FieldSpec(
            "owner",
            "OwnerId",
            "standard",
            kind=ValueKind.USER,
            source_of_truth=System.CRM,
            note="the active user with the same email",
        ),
    ]


def stored_value(name: str, value: Any) -> Any:
    """What a Lead keeps for a value crmsync wrote: cut to the field's length, and the
    placeholder where a required field was empty."""
    if name in REQUIRED and value in (None, ""):
        return NOT_PROVIDED
    return _value(name, value)


def _value(name: str, value: Any) -> Any:
    if isinstance(value, str) and name in LENGTHS:
        return value[: LENGTHS[name]]
    return value


def lead_values(write: RecordWrite, id_field: str) -> dict[str, Any]:
    """The Lead's fields for one write, external ID included; no OwnerId when nobody matched."""
    values = {
        name: _value(name, value)
        for name, value in write.fields.items()
        if name != id_field and not (name == "OwnerId" and not value)
    }
    for name in REQUIRED:
        if (name in values and values[name] in (None, "")) or (
            write.first_write and name not in values
        ):
            values[name] = NOT_PROVIDED
    return {id_field: write.local_id, **values}


def contact_values(write: RecordWrite, contact_fields: Collection[str]) -> dict[str, Any]:
    """The same write for the Contact a lead became: renamed, and only fields Contact has."""
    values: dict[str, Any] = {}
    for name, value in write.fields.items():
        target = CONTACT_FIELDS.get(name, name if name.endswith("__c") else None)
        if target is None or target not in contact_fields or (name == "OwnerId" and not value):
            continue
        values[target] = NOT_PROVIDED if name == "LastName" and not value else _value(name, value)
    return values
