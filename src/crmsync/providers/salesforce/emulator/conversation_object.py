"""The custom object the app's package installs for conversations, e.g.
``Acme_Conversation__c``: described, written (by id, or upserted by its external ID) and
queried like any sObject.

Its fields: ``Name``; ``Acme_Conversation_ID__c`` (the app's conversation id: a unique,
external ID text field); lookups ``Lead__c`` (to Lead) and ``Contact__c`` (to Contact, for a
converted lead); restricted picklists ``Channel__c`` and ``Direction__c``; ``Subject__c``
(text, 255), ``Body__c`` (long text area, 131,072) and ``Occurred_At__c`` (date/time). A
field it lacks, a wrong picklist value or a lookup to no record is refused as Salesforce
refuses it (``values.check_values``).
"""

from __future__ import annotations

from crmsync.providers.salesforce.emulator.schema import (
    FieldDef,
    SObjectType,
    _system,
    _text,
)

CHANNELS = ("email", "sms", "call", "chat", "note")
DIRECTIONS = ("inbound", "outbound")


def conversation_object(name: str, key_prefix: str) -> SObjectType:
    """``name`` is ``<Prefix>_Conversation__c``; its external ID is
    ``<Prefix>_Conversation_ID__c``."""
    external_id = name.removesuffix("__c") + "_ID__c"
    fields = [
        *_system(),
        _text("Name", 80, "Conversation Name"),
        FieldDef(
            external_id,
            "string",
            "Conversation ID",
            128,
            external_id=True,
            unique=True,
            custom=True,
        ),
        FieldDef("Lead__c", "reference", "Lead", 18, reference_to=("Lead",), custom=True),
        FieldDef("Contact__c", "reference", "Contact", 18, reference_to=("Contact",), custom=True),
        FieldDef(
            "Channel__c",
            "picklist",
            "Channel",
            255,
            picklist=CHANNELS,
            restricted=True,
            custom=True,
        ),
        FieldDef(
            "Direction__c",
            "picklist",
            "Direction",
            255,
            picklist=DIRECTIONS,
            restricted=True,
            custom=True,
        ),
        FieldDef("Subject__c", "string", "Subject", 255, custom=True),
        FieldDef("Body__c", "textarea", "Body", 131_072, custom=True),
        FieldDef("Occurred_At__c", "datetime", "Occurred At", custom=True),
    ]
    obj = SObjectType(name, "Conversation", {f.name: f for f in fields}, prefix=key_prefix)
    return obj
