"""The sObjects the emulator knows, described the way ``GET /sobjects/{name}/describe`` does.

Standard fields only as far as connectors and tests use them; custom fields are added by the
Tooling API (``CustomField``) or installed with the emulated managed package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crmsync.providers.salesforce.emulator.ids import KEY_PREFIXES

NOT_NULL = False


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str  # id string email phone url picklist reference boolean date datetime double ...
    label: str = ""
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    unique: bool = False
    custom: bool = False
    defaulted_on_create: bool = False
    reference_to: tuple[str, ...] = ()
    picklist: tuple[str, ...] = ()
    restricted: bool = False

    @property
    def relationship_name(self) -> str | None:
        """How SOQL names the record a lookup points at: ``Owner`` for ``OwnerId``."""
        if self.type != "reference":
            return None
        if self.name.endswith("__c"):
            return self.name.removesuffix("__c") + "__r"
        return self.name.removesuffix("Id") if self.name.endswith("Id") else None

    @property
    def required_on_create(self) -> bool:
        return not self.nillable and self.createable and not self.defaulted_on_create

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label or self.name.removesuffix("__c").replace("_", " "),
            "type": self.type,
            "length": self.length,
            "nillable": self.nillable,
            "createable": self.createable,
            "updateable": self.updateable,
            "externalId": self.external_id,
            "unique": self.unique,
            "custom": self.custom,
            "defaultedOnCreate": self.defaulted_on_create,
            "idLookup": self.type == "id" or self.external_id,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "restrictedPicklist": self.restricted,
            "picklistValues": [
                {"active": True, "defaultValue": i == 0, "label": v, "value": v}
                for i, v in enumerate(self.picklist)
            ],
        }


@dataclass
class SObjectType:
    name: str
    label: str
    fields: dict[str, FieldDef] = field(default_factory=dict)
    createable: bool = True
    prefix: str = ""
    """A custom object's key prefix (standard objects have theirs in ``KEY_PREFIXES``)."""
    _by_lower: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_lower = {name.lower(): name for name in self.fields}

    @property
    def key_prefix(self) -> str:
        return self.prefix or KEY_PREFIXES[self.name]

    def field(self, name: str) -> FieldDef | None:
        """Field names are case-insensitive in Salesforce, as in SOQL."""
        canonical = self._by_lower.get(name.lower())
        return self.fields[canonical] if canonical else None

    def add(self, definition: FieldDef) -> None:
        self.fields[definition.name] = definition
        self._by_lower[definition.name.lower()] = definition.name

    def remove(self, name: str) -> bool:
        canonical = self._by_lower.pop(name.lower(), None)
        return canonical is not None and self.fields.pop(canonical, None) is not None

    def describe(self, version: str) -> dict[str, Any]:
        base = f"/services/data/{version}/sobjects/{self.name}"
        return {
            "name": self.name,
            "label": self.label,
            "keyPrefix": self.key_prefix,
            "custom": False,
            "createable": self.createable,
            "updateable": self.createable,
            "queryable": True,
            "fields": [f.describe() for f in self.fields.values()],
            "urls": {
                "sobject": base,
                "describe": f"{base}/describe",
                "rowTemplate": f"{base}/{{ID}}",
            },
        }


def _system(owner: bool = True) -> list[FieldDef]:
    fields = [
        FieldDef(
            "Id", "id", "Record ID", 18, nillable=NOT_NULL, createable=False, updateable=False
        ),
        FieldDef(
            "IsDeleted", "boolean", "Deleted", nillable=NOT_NULL, createable=False, updateable=False
        ),
        FieldDef(
            "CreatedDate",
            "datetime",
            "Created Date",
            nillable=NOT_NULL,
            createable=False,
            updateable=False,
        ),
        FieldDef(
            "CreatedById",
            "reference",
            "Created By ID",
            18,
            reference_to=("User",),
            createable=False,
            updateable=False,
        ),
        FieldDef(
            "LastModifiedDate", "datetime", "Last Modified Date", createable=False, updateable=False
        ),
        FieldDef(
            "LastModifiedById",
            "reference",
            "Last Modified By ID",
            18,
            reference_to=("User",),
            createable=False,
            updateable=False,
        ),
        FieldDef(
            "SystemModstamp", "datetime", "System Modstamp", createable=False, updateable=False
        ),
    ]
    if owner:
        fields.append(
            FieldDef(
                "OwnerId",
                "reference",
                "Owner ID",
                18,
                nillable=NOT_NULL,
                defaulted_on_create=True,
                reference_to=("User",),
            )
        )
    return fields


def _master(name: str) -> FieldDef:
    """Set on the losers of a merge (deleted, visible with ``queryAll``): the survivor's id."""
    return FieldDef(
        "MasterRecordId",
        "reference",
        "Master Record ID",
        18,
        reference_to=(name,),
        createable=False,
        updateable=False,
    )


def _text(name: str, length: int, label: str = "", **kwargs: Any) -> FieldDef:
    return FieldDef(name, "string", label or name, length, **kwargs)


LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)
STAGES = ("Prospecting", "Qualification", "Needs Analysis", "Proposal", "Closed Won", "Closed Lost")


def _object(name: str, label: str, fields: list[FieldDef], createable: bool = True) -> SObjectType:
    return SObjectType(name, label, {f.name: f for f in fields}, createable)


def standard_objects() -> dict[str, SObjectType]:
    """Fresh definitions of every emulated sObject (each emulator owns its own copies)."""
    person = [
        _text("FirstName", 40, "First Name"),
        _text("LastName", 80, "Last Name", nillable=NOT_NULL),
        _text("Name", 121, "Full Name", createable=False, updateable=False),
        FieldDef("Email", "email", "Email", 80),
        FieldDef("Phone", "phone", "Phone", 40),
        _text("Title", 128),
    ]
    lead = _object(
        "Lead",
        "Lead",
        [
            *_system(),
            _master("Lead"),
            *person,
            _text("Company", 255, nillable=NOT_NULL),
            _text("City", 40),
            _text("State", 80, "State/Province"),
            _text("PostalCode", 20, "Zip/Postal Code"),
            _text("Country", 80),
            FieldDef(
                "Status",
                "picklist",
                "Lead Status",
                255,
                nillable=NOT_NULL,
                defaulted_on_create=True,
                picklist=LEAD_STATUSES,
                restricted=True,
            ),
            FieldDef(
                "LeadSource",
                "picklist",
                "Lead Source",
                255,
                picklist=("Web", "Phone Inquiry", "Partner Referral", "Other"),
            ),
            FieldDef(
                "IsConverted",
                "boolean",
                "Converted",
                nillable=NOT_NULL,
                createable=False,
                updateable=False,
            ),
            FieldDef("ConvertedDate", "date", "Converted Date", createable=False, updateable=False),
            *[
                FieldDef(
                    f"Converted{kind}Id",
                    "reference",
                    f"Converted {kind} ID",
                    18,
                    reference_to=(kind,),
                    createable=False,
                    updateable=False,
                )
                for kind in ("Account", "Contact", "Opportunity")
            ],
        ],
    )
    contact = _object(
        "Contact",
        "Contact",
        [
            *_system(),
            _master("Contact"),
            *person,
            _text("MailingCity", 40, "Mailing City"),
            _text("MailingState", 80, "Mailing State/Province"),
            _text("MailingPostalCode", 20, "Mailing Zip/Postal Code"),
            _text("MailingCountry", 80, "Mailing Country"),
            FieldDef("AccountId", "reference", "Account ID", 18, reference_to=("Account",)),
            FieldDef("LeadSource", "picklist", "Lead Source", 255, picklist=("Web", "Other")),
        ],
    )
    account = _object(
        "Account",
        "Account",
        [
            *_system(),
            _master("Account"),
            _text("Name", 255, "Account Name", nillable=NOT_NULL),
            FieldDef("Website", "url", "Website", 255),
            FieldDef("Phone", "phone", "Phone", 40),
            _text("Industry", 255),
        ],
    )
    opportunity = _object(
        "Opportunity",
        "Opportunity",
        [
            *_system(),
            _text("Name", 120, nillable=NOT_NULL),
            FieldDef(
                "StageName",
                "picklist",
                "Stage",
                255,
                nillable=NOT_NULL,
                picklist=STAGES,
                restricted=True,
            ),
            FieldDef("CloseDate", "date", "Close Date", nillable=NOT_NULL),
            FieldDef("Amount", "currency", "Amount"),
            FieldDef("Probability", "percent", "Probability (%)"),
            FieldDef("AccountId", "reference", "Account ID", 18, reference_to=("Account",)),
        ],
    )
    task = _object(
        "Task",
        "Task",
        [
            *_system(),
            _text("Subject", 255),
            FieldDef(
                "Status",
                "picklist",
                "Status",
                255,
                nillable=NOT_NULL,
                defaulted_on_create=True,
                picklist=("Not Started", "In Progress", "Completed"),
            ),
            FieldDef(
                "Priority",
                "picklist",
                "Priority",
                255,
                nillable=NOT_NULL,
                defaulted_on_create=True,
                picklist=("Normal", "High", "Low"),
            ),
            FieldDef("ActivityDate", "date", "Due Date Only"),
            FieldDef("WhoId", "reference", "Name ID", 18, reference_to=("Contact", "Lead")),
            FieldDef(
                "WhatId", "reference", "Related To ID", 18, reference_to=("Account", "Opportunity")
            ),
            FieldDef("Description", "textarea", "Description", 32000),
        ],
    )
    user = _object(
        "User",
        "User",
        [
            *_system(owner=False),
            _text("Username", 80, nillable=NOT_NULL),
            FieldDef("Email", "email", "Email", 128),
            _text("FirstName", 40, "First Name"),
            _text("LastName", 80, "Last Name"),
            _text("Name", 121, "Full Name", createable=False, updateable=False),
            FieldDef("IsActive", "boolean", "Active", nillable=NOT_NULL),
            FieldDef(
                "UserType",
                "picklist",
                "User Type",
                40,
                picklist=("Standard", "AutomatedProcess", "CsnOnly"),
                createable=False,
                updateable=False,
            ),
        ],
        createable=False,
    )
    return {
        o.name: o for o in (lead, contact, account, opportunity, task, user, *platform_objects())
    }


EDITIONS = (
    "Developer Edition",
    "Professional Edition",
    "Enterprise Edition",
    "Unlimited Edition",
    "Performance Edition",
    "Team Edition",
)


def platform_objects() -> list[SObjectType]:
    """Read-only objects the platform keeps: the org itself and its assignment rules."""
    organization = _object(
        "Organization",
        "Organization",
        [
            *_system(owner=False),
            _text("Name", 80, nillable=NOT_NULL),
            FieldDef(
                "OrganizationType",
                "picklist",
                "Edition",
                40,
                picklist=EDITIONS,
                restricted=True,
                createable=False,
                updateable=False,
            ),
            _text("InstanceName", 5, "Instance Name", createable=False, updateable=False),
            FieldDef(
                "IsSandbox",
                "boolean",
                "Is Sandbox",
                nillable=NOT_NULL,
                createable=False,
                updateable=False,
            ),
        ],
        createable=False,
    )
    assignment_rule = _object(
        "AssignmentRule",
        "Assignment Rule",
        [
            *_system(owner=False),
            _text("Name", 120),
            FieldDef("Active", "boolean", "Active", nillable=NOT_NULL, defaulted_on_create=True),
            FieldDef(
                "SobjectType",
                "picklist",
                "Object",
                40,
                picklist=("Case", "Lead"),
                restricted=True,
            ),
        ],
        createable=False,
    )
    return [organization, assignment_rule]


DEFAULTS: dict[tuple[str, str], Any] = {
    ("Lead", "Status"): LEAD_STATUSES[0],
    ("Lead", "IsConverted"): False,
    ("Task", "Status"): "Not Started",
    ("Task", "Priority"): "Normal",
}
"""Values a new record gets when the write leaves them out."""


def custom_field(full_name: str, metadata: dict[str, Any]) -> FieldDef:
    """A field from a Tooling API ``CustomField`` body (``Metadata`` in its API form)."""
    kind = str(metadata.get("type", ""))
    name = full_name.split(".", 1)[1]
    types = {
        "Text": "string",
        "Url": "url",
        "Email": "email",
        "Phone": "phone",
        "Checkbox": "boolean",
        "Date": "date",
        "DateTime": "datetime",
        "Number": "double",
        "LongTextArea": "textarea",
    }
    length = int(metadata.get("length") or (255 if kind in ("Url",) else 0))
    return FieldDef(
        name,
        types[kind],
        str(metadata.get("label") or name),
        length,
        external_id=bool(metadata.get("externalId")),
        unique=bool(metadata.get("unique")),
        custom=True,
    )
