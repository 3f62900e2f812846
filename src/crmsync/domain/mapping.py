"""The field-level model: what flows between two endpoints, field by field, and who owns each.

An **endpoint** is the host application (``APP``) or one connection, named by its id. A
**flow** joins two endpoints (the app and a CRM today; two CRMs next) through object mappings;
each object mapping lists field mappings, and every field mapping names its **source of truth**,
the endpoint whose value wins. Written from one endpoint to the other:

* a record's **create** writes every mapped field that has a value;
* an **update** writes only the fields the writing endpoint owns (ownership is absolute: an
  owned field that is empty empties the other side);
* **identity** fields (the match key, the profile link) belong to the app and are written on
  every change, whatever else is preserved.

The owner of a record is one more field, of kind ``USER``: its value is a user reference (the
app user's email), translated to and from each CRM's own user ids at the edge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

APP: Final = "app"
"""The host application as an endpoint; any other endpoint is a connection's id."""


class ValueKind(StrEnum):
    """What a field holds, so that values are compared and translated as what they are."""

    TEXT = "text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    PICKLIST = "picklist"
    MULTI_PICKLIST = "multi_picklist"
    USER = "user"
    """A user reference: the app user's email on the app side, the CRM's user id on the CRM's."""
    KEY = "key"
    """The local record's id as the CRM stores it (the match key, e.g. the Person ID)."""


@dataclass(frozen=True, slots=True)
class FieldMap:
    """One local field to one CRM field."""

    local_field: str
    crm_field: str
    kind: ValueKind
    source_of_truth: str
    """The endpoint that owns the field: ``APP`` or a connection id."""
    identity: bool = False
    """Written on every change from the app, whatever else is preserved (match key, link)."""


@dataclass(frozen=True)
class FieldMaps:
    """An object mapping's fields, with the lookups the planner needs per record prepared once
    (the planner runs for every record of every batch)."""

    fields: tuple[FieldMap, ...]
    by_crm: dict[str, FieldMap] = field(init=False, compare=False)
    users: frozenset[str] = field(init=False, compare=False)
    """CRM fields holding a user reference (translated to the CRM's user ids)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_crm", {f.crm_field: f for f in self.fields})
        object.__setattr__(
            self, "users", frozenset(f.crm_field for f in self.fields if f.kind is ValueKind.USER)
        )

    @classmethod
    def of(cls, fields: Iterable[FieldMap]) -> FieldMaps:
        return cls(tuple(fields))

    def writes_on_update(self, crm_field: str, writer: str, preserve_manual_edits: bool) -> bool:
        """May an update written from ``writer`` change ``crm_field``? Identity fields always;
        others only when ``writer`` owns them (and, with manual edits preserved, never)."""
        mapped = self.by_crm.get(crm_field)
        if mapped is None:
            return False
        if mapped.identity:
            return True
        return not preserve_manual_edits and mapped.source_of_truth == writer


@dataclass(frozen=True)
class ObjectMap:
    """One local object to one CRM object, with its fields."""

    local_object: str
    crm_object: str
    fields: FieldMaps


@dataclass(frozen=True)
class Flow:
    """What syncs between two endpoints: ``source`` is written into ``target`` (a connection),
    and ``target`` read back into ``source``, object by object."""

    id: int
    source: str
    target: str
    objects: tuple[ObjectMap, ...]

    def object_for(self, local_object: str) -> ObjectMap | None:
        return next((o for o in self.objects if o.local_object == local_object), None)
