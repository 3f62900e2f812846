"""Bodies of the mappings routes: the org's app fields, the CRM's field catalogue, and the
connection's field mappings (each a command in, a view out, as in ``api.schemas``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from crmsync.api.schemas import Name, ShortIdentifier, Strict, UtcDateTime
from crmsync.domain import views
from crmsync.domain.commands import DeclareField, MapField, MapObject, SaveAppFields, SaveMappings
from crmsync.domain.enums import System
from crmsync.domain.mapping import ValueKind

FieldName = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
"""A field's name as its system spells it (a CRM's field names are up to 200 characters)."""
CustomName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Option = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Canonical = Literal["app", "crm"]
Kind = Literal[
    "text", "number", "boolean", "date", "datetime", "picklist", "multi_picklist", "user", "key"
]
CHANGED_BY = (
    "The org user making the change: crmsync refuses it (403) unless they are an admin of the "
    "org. Left out, the change is the host's own."
)


# -- the org's app fields ----------------------------------------------------------------
class AppFieldIn(Strict):
    name: CustomName = Field(description="Lower-case letters, digits and underscores.")
    label: Name
    type: Kind = Field(
        description="text, number, boolean, date, datetime, picklist or multi_picklist."
    )
    options: list[Option] = Field(
        default_factory=list, max_length=500, description="A picklist's values."
    )

    def command(self) -> DeclareField:
        return DeclareField(self.name, self.label, ValueKind(self.type), tuple(self.options))


class AppFieldsIn(Strict):
    fields: list[AppFieldIn] = Field(max_length=200, description="Every custom field of the org.")
    changed_by: ShortIdentifier | None = Field(None, description=CHANGED_BY)

    def command(self) -> SaveAppFields:
        return SaveAppFields(tuple(f.command() for f in self.fields), self.changed_by)


class AppFieldOut(BaseModel):
    name: str
    label: str
    type: str
    custom: bool
    options: list[str]
    mappable: bool
    why: str = Field(description="Why a field cannot be mapped, when it cannot.")

    @classmethod
    def of(cls, view: views.AppFieldView) -> AppFieldOut:
        return cls(
            name=view.name,
            label=view.label,
            type=view.kind,
            custom=view.custom,
            options=list(view.options),
            mappable=view.mappable,
            why=view.why,
        )


# -- the CRM's catalogue -------------------------------------------------------------------
class CrmFieldOut(BaseModel):
    name: str
    label: str
    type: str
    custom: bool
    read_only: bool
    options: list[str]


class CrmFieldsOut(BaseModel):
    provider: str
    crm_object: str
    checked: bool = Field(description="False: the CRM cannot describe its fields to crmsync.")
    fetched_at: UtcDateTime | None
    fields: list[CrmFieldOut]

    @classmethod
    def of(cls, view: views.CrmCatalogue) -> CrmFieldsOut:
        return cls(
            provider=view.provider,
            crm_object=view.crm_object,
            checked=view.checked,
            fetched_at=view.fetched_at,
            fields=[
                CrmFieldOut(
                    name=f.name,
                    label=f.label,
                    type=f.kind,
                    custom=f.custom,
                    read_only=f.read_only,
                    options=list(f.options),
                )
                for f in view.fields
            ],
        )


# -- the connection's mappings ------------------------------------------------------------------
class FieldMappingIn(Strict):
    app_field: FieldName
    crm_field: FieldName
    canonical: Canonical = Field(description="The system whose value wins: app or crm.")
    kind: Kind | None = Field(None, description="Optional: must be the app field's type.")

    def command(self) -> MapField:
        kind = None if self.kind is None else ValueKind(self.kind)
        return MapField(self.app_field, self.crm_field, System(self.canonical), kind)


class ObjectMappingIn(Strict):
    local_object: FieldName = Field(description="The app's object, e.g. contact.")
    fields: list[FieldMappingIn] = Field(max_length=500)

    def command(self) -> MapObject:
        return MapObject(self.local_object, tuple(f.command() for f in self.fields))


class MappingsIn(Strict):
    objects: list[ObjectMappingIn] = Field(max_length=20, description="Each object mapping once.")
    changed_by: ShortIdentifier | None = Field(None, description=CHANGED_BY)

    def command(self) -> SaveMappings:
        return SaveMappings(tuple(o.command() for o in self.objects), self.changed_by)


class FieldMappingOut(BaseModel):
    app_field: str
    crm_field: str
    canonical: str
    kind: str
    identity: bool = Field(description="Written on every change from the app.")
    fixed: bool = Field(description="An ID mapping: required, and it cannot change.")
    custom_in_crm: bool | None = Field(description="A custom field of the CRM (null: unknown).")


class ObjectMappingOut(BaseModel):
    local_object: str
    crm_object: str
    direction: str
    fields: list[FieldMappingOut]


class MappingsOut(BaseModel):
    connection_id: str
    provider: str
    crm_fields_checked: bool = Field(
        description="False: the CRM cannot describe its fields; names are taken as given."
    )
    note: str
    objects: list[ObjectMappingOut]

    @classmethod
    def of(cls, view: views.MappingsView) -> MappingsOut:
        return cls(
            connection_id=view.connection_id,
            provider=view.provider,
            crm_fields_checked=view.crm_fields_checked,
            note=view.note,
            objects=[
                ObjectMappingOut(
                    local_object=o.local_object,
                    crm_object=o.crm_object,
                    direction=o.direction,
                    fields=[
                        FieldMappingOut(
                            app_field=f.app_field,
                            crm_field=f.crm_field,
                            canonical=f.canonical,
                            kind=f.kind,
                            identity=f.identity,
                            fixed=f.fixed,
                            custom_in_crm=f.custom_in_crm,
                        )
                        for f in o.fields
                    ],
                )
                for o in view.objects
            ],
        )


class MappingChangeOut(BaseModel):
    local_object: str
    app_field: str
    change: str = Field(description="added, removed, now_app, now_crm or crm_field_changed.")
    effect: str


class MappingsSaved(BaseModel):
    mappings: MappingsOut
    changes: list[MappingChangeOut]
    summary: str
    full_sync: str = Field(description="What a full sync would do, should you ask for one.")

    @classmethod
    def of(cls, view: views.SavedMappings) -> MappingsSaved:
        return cls(
            mappings=MappingsOut.of(view.mappings),
            changes=[
                MappingChangeOut(
                    local_object=c.local_object,
                    app_field=c.app_field,
                    change=c.change,
                    effect=c.effect,
                )
                for c in view.changes
            ],
            summary=view.summary,
            full_sync=view.full_sync,
        )
