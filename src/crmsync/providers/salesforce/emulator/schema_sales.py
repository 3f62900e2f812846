"""The sales objects beyond ``schema.standard_objects()``: Event, OpportunityStage, RecordType
with its BusinessProcess, queues (``Group`` of type ``Queue`` and ``QueueSobject``), and the
fields they add to the standard objects (Opportunity's ``IsClosed``/``IsWon``/``ContactId``/
``RecordTypeId``, a Lead owned by a queue).

Kept apart from ``schema.py`` so other objects can be added there without touching these.
"""

from __future__ import annotations

from dataclasses import replace

from crmsync.providers.salesforce.emulator.schema import (
    NOT_NULL,
    STAGES,
    FieldDef,
    SObjectType,
    _object,
    _system,
    _text,
)

STAGE_TABLE: tuple[tuple[str, bool, bool, float], ...] = (
    ("Prospecting", False, False, 10.0),
    ("Qualification", False, False, 10.0),
    ("Needs Analysis", False, False, 20.0),
    ("Proposal", False, False, 75.0),
    ("Closed Won", True, True, 100.0),
    ("Closed Lost", True, False, 0.0),
)
"""Each stage's (MasterLabel, IsClosed, IsWon, DefaultProbability), in ``SortOrder``."""
assert tuple(s[0] for s in STAGE_TABLE) == STAGES

QUEUE_OBJECTS = ("Lead", "Case")
"""What a queue may take (Salesforce: Lead, Case, custom objects; not Account, Contact or
Opportunity). Case is not emulated: a Case queue is one that takes no emulated object."""
QUEUE_OWNED = ("Lead",)
"""Whose ``OwnerId`` may name a queue."""
EVENT_DEFAULTS = {"IsAllDayEvent": False}


def _read_only(
    name: str,
    kind: str,
    label: str,
    *,
    length: int = 0,
    nillable: bool = True,
    reference_to: tuple[str, ...] = (),
    picklist: tuple[str, ...] = (),
    restricted: bool = False,
) -> FieldDef:
    """A field the platform sets: neither createable nor updateable through the API."""
    return FieldDef(
        name,
        kind,
        label,
        length,
        nillable=nillable,
        createable=False,
        updateable=False,
        reference_to=reference_to,
        picklist=picklist,
        restricted=restricted,
    )


def _reference(name: str, label: str, *targets: str) -> FieldDef:
    return FieldDef(name, "reference", label, 18, reference_to=targets)


def event() -> SObjectType:
    return _object(
        "Event",
        "Event",
        [
            *_system(),
            _text("Subject", 255),
            FieldDef("StartDateTime", "datetime", "Start Date Time"),
            FieldDef("EndDateTime", "datetime", "End Date Time"),
            FieldDef("ActivityDateTime", "datetime", "Due Date Time"),
            FieldDef("ActivityDate", "date", "Due Date Only"),
            FieldDef("DurationInMinutes", "int", "Duration", 8),
            FieldDef(
                "IsAllDayEvent",
                "boolean",
                "All-Day Event",
                nillable=NOT_NULL,
                defaulted_on_create=True,
            ),
            _reference("WhoId", "Name ID", "Contact", "Lead"),
            _reference("WhatId", "Related To ID", "Account", "Opportunity"),
            FieldDef("Description", "textarea", "Description", 32000),
        ],
    )


def opportunity_stage() -> SObjectType:
    return _object(
        "OpportunityStage",
        "Opportunity Stage",
        [
            *_system(owner=False),
            _read_only("MasterLabel", "string", "Master Label", length=255),
            _read_only("ApiName", "string", "Api Name", length=255),
            _read_only("IsActive", "boolean", "Is Active", nillable=NOT_NULL),
            _read_only("IsClosed", "boolean", "Is Closed", nillable=NOT_NULL),
            _read_only("IsWon", "boolean", "Is Won", nillable=NOT_NULL),
            _read_only("DefaultProbability", "percent", "Default Probability"),
            _read_only("SortOrder", "int", "Sort Order"),
            _read_only(
                "ForecastCategoryName",
                "picklist",
                "Forecast Category Name",
                picklist=("Pipeline", "Best Case", "Commit", "Omitted", "Closed"),
            ),
        ],
        createable=False,
    )


def record_type() -> SObjectType:
    return _object(
        "RecordType",
        "Record Type",
        [
            *_system(owner=False),
            _text("Name", 80, "Name", createable=False, updateable=False),
            _text("DeveloperName", 80, "Record Type Name", createable=False, updateable=False),
            _text("SobjectType", 40, "SObject Type Name", createable=False, updateable=False),
            _read_only("IsActive", "boolean", "Active", nillable=NOT_NULL),
            _read_only(
                "BusinessProcessId",
                "reference",
                "Business Process ID",
                length=18,
                reference_to=("BusinessProcess",),
            ),
        ],
        createable=False,
    )


def business_process() -> SObjectType:
    return _object(
        "BusinessProcess",
        "Business Process",
        [
            *_system(owner=False),
            _text("Name", 80, "Name", createable=False, updateable=False),
            _text(
                "TableEnumOrId", 40, "Entity Enumeration Or ID", createable=False, updateable=False
            ),
            _read_only("IsActive", "boolean", "Active", nillable=NOT_NULL),
        ],
        createable=False,
    )


def group() -> SObjectType:
    """Groups and queues: created through the API too (``Type`` ``Queue`` for a queue)."""
    return _object(
        "Group",
        "Group",
        [
            *_system(owner=False),
            _text("Name", 40, "Name", nillable=NOT_NULL),
            _text(
                "DeveloperName", 80, "Developer Name", nillable=NOT_NULL, defaulted_on_create=True
            ),
            FieldDef(
                "Type",
                "picklist",
                "Type",
                40,
                nillable=NOT_NULL,
                defaulted_on_create=True,
                updateable=False,
                picklist=("Regular", "Queue", "Role", "Organization"),
                restricted=True,
            ),
            FieldDef("Email", "email", "Email", 255),
        ],
    )


def queue_sobject() -> SObjectType:
    """Which sObject a queue takes, one row per sObject."""
    return _object(
        "QueueSobject",
        "Queue Sobject",
        [
            *_system(owner=False),
            FieldDef(
                "QueueId",
                "reference",
                "Group ID",
                18,
                nillable=NOT_NULL,
                updateable=False,
                reference_to=("Group",),
            ),
            FieldDef(
                "SobjectType",
                "picklist",
                "SObject Type",
                40,
                nillable=NOT_NULL,
                updateable=False,
                picklist=QUEUE_OBJECTS,
                restricted=True,
            ),
        ],
    )


def sales_objects() -> list[SObjectType]:
    """Fresh definitions of the sales objects this module adds."""
    return [
        event(),
        opportunity_stage(),
        record_type(),
        business_process(),
        group(),
        queue_sobject(),
    ]


def extend_standard(objects: dict[str, SObjectType]) -> dict[str, SObjectType]:
    """Add the sales objects and the sales fields of the standard ones (in place)."""
    for obj in sales_objects():
        objects[obj.name] = obj
    opportunity = objects["Opportunity"]
    opportunity.add(_read_only("IsClosed", "boolean", "Closed", nillable=NOT_NULL))
    opportunity.add(_read_only("IsWon", "boolean", "Won", nillable=NOT_NULL))
    opportunity.add(_reference("ContactId", "Contact ID", "Contact"))
    opportunity.add(_reference("RecordTypeId", "Record Type ID", "RecordType"))
    for name in ("Account", "Contact", "Opportunity"):
        objects[name].add(FieldDef("Description", "textarea", "Description", 32000))
    for name in QUEUE_OWNED:
        owner = objects[name].fields["OwnerId"]
        objects[name].add(replace(owner, reference_to=("User", "Group")))
    return objects
