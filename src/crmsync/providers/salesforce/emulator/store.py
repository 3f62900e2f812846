"""One org's records: every sObject's rows, external-ID and email indexes, duplicate rules,
converted leads, and an undo log so ``allOrNone`` collections can roll back.

Every method takes the store's lock; rows handed out are copies.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crmsync.providers.salesforce.emulator import ids, sales_rules
from crmsync.providers.salesforce.emulator.errors import (
    ItemError,
    RecordFailure,
    SalesforceError,
    is_deleted,
    not_found,
)
from crmsync.providers.salesforce.emulator.schema import (
    DEFAULTS,
    FieldDef,
    SObjectType,
    standard_objects,
)
from crmsync.providers.salesforce.emulator.schema_sales import extend_standard
from crmsync.providers.salesforce.emulator.values import check_values

Row = dict[str, Any]
Undo = list[tuple[str, str, Row | None]]
"""(sObject, id, the row before the write or None when it was created)."""

CONVERTED_MESSAGE = "cannot reference converted lead"
DUPLICATE_MESSAGE = "Use one of these records?"
NAMED = ("Lead", "Contact", "User")


@dataclass(frozen=True)
class WriteContext:
    """Who writes and how: the running user (default owner), the duplicate-rule header, and
    whether a user edits in the UI (``manual``: read-only fields allowed, no rules)."""

    user_id: str
    allow_save: bool = False
    manual: bool = False
    assignment_rule: str | None = None
    """The lead assignment rule this write runs, if any (``Sforce-Auto-Assign``)."""
    assign_updates: bool = False
    """Whether it runs on updated leads too, not only on created ones."""


@dataclass
class MultipleMatches(Exception):
    """An upsert's external ID matched several records (HTTP 300)."""

    ids: list[str] = field(default_factory=list)


def timestamp(seconds: float) -> str:
    """Salesforce's datetime format: ``2024-05-01T12:00:00.000+0000``. Salesforce keeps
    whole seconds (the milliseconds are always 000), so records written within one second
    share their stamps."""
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + ".000+0000"


class OrgStore:
    def __init__(
        self,
        id_factory: ids.IdFactory,
        clock: Callable[[], float],
        *,
        duplicate_rule: str = "none",
        duplicate_rule_name: str = "Standard_Lead_Duplicate_Rule",
    ) -> None:
        self.lock = threading.RLock()
        self.ids = id_factory
        self.clock = clock
        self.duplicate_rule = duplicate_rule
        self.duplicate_rule_name = duplicate_rule_name
        self.objects: dict[str, SObjectType] = extend_standard(standard_objects())
        self.process_stages: dict[str, tuple[str, ...]] = {}
        """Each Opportunity business process's stages (setup the API does not read)."""
        self.rows: dict[str, dict[str, Row]] = {name: {} for name in self.objects}
        self.recycled: dict[str, dict[str, Row]] = {name: {} for name in self.objects}
        """The recycle bin: deleted rows (``IsDeleted`` true), which only ``queryAll`` reads."""
        self.deleted: dict[str, list[tuple[str, float]]] = {name: [] for name in self.objects}
        """Per sObject, (id, when) of each deleted record, for ``/sobjects/X/deleted/``."""
        self.purged: dict[str, float] = {}
        """Per sObject, when the last physically deleted record had been deleted."""
        self.assignees: dict[str, str] = {}
        """Each lead assignment rule's one entry: the user it assigns every lead to."""
        self._index: dict[tuple[str, str], dict[str, set[str]]] = {}
        for name in NAMED:
            self._index[(name, "Email")] = {}

    # -- schema ----------------------------------------------------------------------
    def sobject(self, name: str) -> SObjectType:
        """The sObject type, matched ignoring case; 404 ``NOT_FOUND`` when unknown."""
        for candidate in self.objects.values():
            if candidate.name.lower() == name.lower():
                return candidate
        raise not_found()

    def add_object(self, obj: SObjectType) -> None:
        """A custom object (installed with a package): described, written and queried as
        any other."""
        with self.lock:
            self.objects[obj.name] = obj
            self.rows.setdefault(obj.name, {})
            self.recycled.setdefault(obj.name, {})
            self.deleted.setdefault(obj.name, [])

    def add_field(self, sobject: str, definition: FieldDef) -> None:
        with self.lock:
            obj = self.sobject(sobject)
            obj.add(definition)
            if definition.external_id or definition.unique:
                index: dict[str, set[str]] = {}
                for row in self.rows[obj.name].values():
                    value = row.get(definition.name)
                    if value is not None:
                        index.setdefault(self._key(definition.name, value), set()).add(row["Id"])
                self._index[(obj.name, definition.name)] = index

    def remove_field(self, sobject: str, name: str) -> bool:
        with self.lock:
            obj = self.sobject(sobject)
            definition = obj.field(name)
            if definition is None or not definition.custom:
                return False
            obj.remove(definition.name)
            self._index.pop((obj.name, definition.name), None)
            for row in self.rows[obj.name].values():
                row.pop(definition.name, None)
            return True

    # -- reads -----------------------------------------------------------------------
    def exists(self, sobjects: tuple[str, ...], record_id: str) -> bool:
        return any(record_id in self.rows.get(name, {}) for name in sobjects)

    def get(self, sobject: str, record_id: str) -> Row:
        with self.lock:
            obj = self.sobject(sobject)
            full = ids.normalise(record_id)
            row = self.rows[obj.name].get(full or "")
            if row is None:
                raise is_deleted() if (full or "") in self.recycled[obj.name] else not_found()
            return dict(row)

    def find(self, sobject: str, field_name: str, value: str) -> list[str]:
        """Ids of records whose field equals ``value`` (emails ignore case)."""
        with self.lock:
            obj = self.sobject(sobject)
            definition = obj.field(field_name)
            if definition is None:
                return []
            index = self._index.get((obj.name, definition.name))
            if index is not None:
                return sorted(index.get(self._key(definition.name, value), ()))
            return [
                r["Id"] for r in self.rows[obj.name].values() if r.get(definition.name) == value
            ]

    def locate(self, record_id: str) -> tuple[str, Row] | None:
        """The sObject and row an id names (no copy: for readers already holding the lock)."""
        for name, rows in self.rows.items():
            row = rows.get(record_id)
            if row is not None:
                return name, row
        return None

    def snapshot(self, sobject: str) -> list[Row]:
        with self.lock:
            return [dict(row) for row in self.rows[self.sobject(sobject).name].values()]

    # -- writes ----------------------------------------------------------------------
    def install(self, sobject: str, record_id: str, values: Row) -> Row:
        """A record the platform itself keeps (the ``Organization``, an ``AssignmentRule``):
        no user writes it, no rule checks it."""
        with self.lock:
            obj = self.sobject(sobject)
            now = timestamp(self.clock())
            row: Row = {
                "Id": record_id,
                "IsDeleted": False,
                "CreatedDate": now,
                "CreatedById": None,
                "LastModifiedDate": now,
                "LastModifiedById": None,
                "SystemModstamp": now,
                **values,
            }
            self.rows[obj.name][record_id] = row
            return dict(row)

    def create(
        self, sobject: str, raw: dict[str, Any], ctx: WriteContext, undo: Undo | None = None
    ) -> Row:
        with self.lock:
            obj = self.sobject(sobject)
            if not obj.createable and not ctx.manual:
                raise SalesforceError(
                    400, "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be inserted: {obj.name}"
                )
            values = self._values(obj, raw, ctx, creating=True)
            self._check_rules(obj, values, None, ctx)
            values = sales_rules.apply(obj.name, values, None, self.rows, self.process_stages)
            if ctx.assignment_rule is not None and obj.name == "Lead":
                values["OwnerId"] = self.assignees[ctx.assignment_rule]
            now = timestamp(self.clock())
            row: Row = {
                "Id": self.ids.new(obj.key_prefix),
                "IsDeleted": False,
                "CreatedDate": now,
                "CreatedById": ctx.user_id,
                "LastModifiedDate": now,
                "LastModifiedById": ctx.user_id,
                "SystemModstamp": now,
            }
            if obj.field("OwnerId") is not None:
                row["OwnerId"] = ctx.user_id
            row.update({k: v for (o, k), v in DEFAULTS.items() if o == obj.name})
            return self._apply(obj, row, values, undo, created=True)

    def update(
        self,
        sobject: str,
        record_id: str,
        raw: dict[str, Any],
        ctx: WriteContext,
        undo: Undo | None = None,
    ) -> Row:
        with self.lock:
            obj = self.sobject(sobject)
            full = ids.normalise(record_id)
            if full is None:
                raise RecordFailure([ItemError("MALFORMED_ID", f"malformed id {record_id}")])
            row = self.rows[obj.name].get(full)
            if row is None:
                raise RecordFailure(
                    [ItemError("ENTITY_IS_DELETED", "entity is deleted")]
                    if full.startswith(obj.key_prefix)
                    else [ItemError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")]
                )
            if obj.name == "Lead" and row.get("IsConverted") and not ctx.manual:
                raise RecordFailure([ItemError("CANNOT_UPDATE_CONVERTED_LEAD", CONVERTED_MESSAGE)])
            values = self._values(obj, raw, ctx, creating=False)
            self._check_rules(obj, values, row, ctx)
            values = sales_rules.apply(obj.name, values, row, self.rows, self.process_stages)
            if ctx.assign_updates and ctx.assignment_rule is not None and obj.name == "Lead":
                values["OwnerId"] = self.assignees[ctx.assignment_rule]
            now = timestamp(self.clock())
            stamp = {
                "LastModifiedDate": now,
                "LastModifiedById": ctx.user_id,
                "SystemModstamp": now,
            }
            if ctx.manual:
                stamp = {k: v for k, v in stamp.items() if k not in values}
            return self._apply(obj, row, {**stamp, **values}, undo, created=False)

    def upsert(
        self,
        sobject: str,
        field_name: str,
        value: str,
        raw: dict[str, Any],
        ctx: WriteContext,
        undo: Undo | None = None,
    ) -> tuple[Row, bool]:
        """Create or update by an external ID; ``MultipleMatches`` when it is ambiguous."""
        with self.lock:
            definition = self.external_id_field(sobject, field_name)
            if not value:
                raise RecordFailure(
                    [ItemError("MISSING_ARGUMENT", f"{definition.name} not specified")]
                )
            found = self.find(sobject, definition.name, value)
            if len(found) > 1:
                raise MultipleMatches(found)
            body = {k: v for k, v in raw.items() if k.lower() != definition.name.lower()}
            if found:
                return self.update(sobject, found[0], body, ctx, undo), False
            return self.create(sobject, {**body, definition.name: value}, ctx, undo), True

    def assignment_rule(self, header: str) -> tuple[str | None, bool]:
        """The rule an ``Sforce-Auto-Assign`` value runs, and whether on updates too."""
        with self.lock:
            if header == "FALSE":
                return None, False
            if header == "TRUE":
                active = [
                    rule["Id"]
                    for rule in self.rows["AssignmentRule"].values()
                    if rule["Active"] and rule["SobjectType"] == "Lead"
                ]
                return (active[0] if active else None), True
            rule_id = ids.normalise(header)
            return (rule_id if rule_id in self.assignees else None), False

    def external_id_field(self, sobject: str, field_name: str) -> FieldDef:
        obj = self.sobject(sobject)
        definition = obj.field(field_name)
        if definition is None:
            raise SalesforceError(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field_name}",
            )
        if not definition.external_id:
            raise SalesforceError(
                400,
                "INVALID_FIELD",
                f"Field name provided, {definition.name} is not an External ID or indexed field "
                f"for {obj.name}",
            )
        return definition

    def delete(
        self, sobject: str, record_id: str, user_id: str, master_id: str | None = None
    ) -> Row:
        """Into the recycle bin, stamped by the deleting user (a merge's loser also names
        its ``MasterRecordId``); 404 ``ENTITY_IS_DELETED`` when it is already there."""
        with self.lock:
            obj = self.sobject(sobject)
            full = ids.normalise(record_id) or ""
            row = self.rows[obj.name].pop(full, None)
            if row is None:
                raise is_deleted() if full in self.recycled[obj.name] else not_found()
            self._unindex(obj.name, row)
            now = self.clock()
            stamp = timestamp(now)
            # Unconfirmed: that a delete moves LastModifiedById as well as the stamps.
            row.update(
                IsDeleted=True,
                LastModifiedDate=stamp,
                LastModifiedById=user_id,
                SystemModstamp=stamp,
            )
            if master_id is not None:
                row["MasterRecordId"] = master_id
            self.recycled[obj.name][full] = row
            self.deleted[obj.name].append((full, now))
            return dict(row)

    def restore(self, sobject: str, record_id: str, user_id: str) -> Row:
        """Undelete: back from the recycle bin with new stamps, its unique values checked
        again (another record may hold them by now)."""
        with self.lock:
            obj = self.sobject(sobject)
            full = ids.normalise(record_id) or ""
            row = self.recycled[obj.name].get(full)
            if row is None:
                if full in self.rows[obj.name]:
                    raise RecordFailure(
                        [ItemError("UNDELETE_FAILED", "Entity is not in the recycle bin")]
                    )
                raise not_found()
            unique = {k: v for k, v in row.items() if k in obj.fields and obj.fields[k].unique}
            self._check_rules(obj, unique, row, WriteContext(user_id, manual=True))
            del self.recycled[obj.name][full]
            self.deleted[obj.name] = [e for e in self.deleted[obj.name] if e[0] != full]
            stamp = timestamp(self.clock())
            row.update(
                IsDeleted=False,
                MasterRecordId=None,
                LastModifiedDate=stamp,
                LastModifiedById=user_id,
                SystemModstamp=stamp,
            )
            return self._apply(obj, row, {}, None, created=True)

    def rollback(self, undo: Undo) -> None:
        """Put back every row an ``allOrNone`` request changed, newest change first."""
        with self.lock:
            for sobject, record_id, before in reversed(undo):
                current = self.rows[sobject].pop(record_id, None)
                if current is not None:
                    self._unindex(sobject, current)
                if before is not None:
                    self.rows[sobject][record_id] = before
                    self._reindex(sobject, before)

    # -- internals -------------------------------------------------------------------
    def _values(
        self, obj: SObjectType, raw: dict[str, Any], ctx: WriteContext, creating: bool
    ) -> dict[str, Any]:
        return check_values(
            obj,
            raw,
            creating=creating,
            exists=self.exists,
            manual=ctx.manual,
            skip=frozenset({"id"}),
        )

    def _check_rules(
        self, obj: SObjectType, values: dict[str, Any], row: Row | None, ctx: WriteContext
    ) -> None:
        """Unique fields, then the Lead duplicate rule (which the allowSave header lifts only
        when its action is Alert)."""
        own = row["Id"] if row else None
        for name, value in values.items():
            definition = obj.fields[name]
            if value is None or not definition.unique:
                continue
            holders = [i for i in self.find(obj.name, name, str(value)) if i != own]
            if holders:
                raise RecordFailure(
                    [
                        ItemError(
                            "DUPLICATE_VALUE",
                            f"duplicate value found: {name} duplicates value on record with id: "
                            f"{holders[0]}",
                            (name,),
                        )
                    ]
                )
        email = values.get("Email")
        if obj.name != "Lead" or self.duplicate_rule == "none" or ctx.manual or not email:
            return
        if self.duplicate_rule == "alert" and ctx.allow_save:
            return
        matches = [i for i in self.find("Lead", "Email", str(email)) if i != own]
        if matches:
            raise RecordFailure([self._duplicate_error(matches)])

    def _duplicate_error(self, matches: list[str]) -> ItemError:
        records = [
            {
                "additionalInformation": [],
                "fieldDiffs": [],
                "matchConfidence": 100.0,
                "record": {"attributes": {"type": "Lead"}, "Id": match},
            }
            for match in matches
        ]
        result = {
            "allowSave": self.duplicate_rule == "alert",
            "duplicateRule": self.duplicate_rule_name,
            "duplicateRuleEntityType": "Lead",
            "errorMessage": DUPLICATE_MESSAGE,
            "matchResults": [
                {
                    "entityType": "Lead",
                    "errors": [],
                    "matchEngine": "ExactMatchEngine",
                    "matchRecords": records,
                    "rule": "Standard_Lead_Match_Rule_v1_0",
                    "size": len(records),
                    "success": True,
                }
            ],
        }
        return ItemError("DUPLICATES_DETECTED", DUPLICATE_MESSAGE, (), {"duplicateResult": result})

    def _apply(
        self, obj: SObjectType, row: Row, values: dict[str, Any], undo: Undo | None, created: bool
    ) -> Row:
        if undo is not None:
            undo.append((obj.name, row["Id"], None if created else dict(row)))
        if not created:
            self._unindex(obj.name, row)
        row.update(values)
        if obj.name in NAMED:
            row["Name"] = " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p)
        self.rows[obj.name][row["Id"]] = row
        self._reindex(obj.name, row)
        return dict(row)

    @staticmethod
    def _key(field_name: str, value: Any) -> str:
        return str(value).lower() if field_name == "Email" else str(value)

    def _reindex(self, sobject: str, row: Row) -> None:
        for (name, field_name), index in self._index.items():
            value = row.get(field_name) if name == sobject else None
            if value is not None:
                index.setdefault(self._key(field_name, value), set()).add(row["Id"])

    def _unindex(self, sobject: str, row: Row) -> None:
        for (name, field_name), index in self._index.items():
            value = row.get(field_name) if name == sobject else None
            if value is not None:
                index.get(self._key(field_name, value), set()).discard(row["Id"])
