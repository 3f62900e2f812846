"""The org's app fields: what a mapping's app side is chosen from. The person's fields
(``engine.contacts.contact_values``) plus the custom fields the host declares per org."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crmsync.db.tables import AppField, FieldMapping, Flow, ObjectMapping, Org
from crmsync.domain.commands import DeclareField, SaveAppFields
from crmsync.domain.mapping import ValueKind
from crmsync.domain.views import AppFieldView
from crmsync.errors import InputError
from crmsync.services.connections import active_connection
from crmsync.services.orgs import get_org, require_admin

PERSON_ID = "person_id"
CRM_RECORD_ID = "crm_record_id"
"""The CRM's id of the record, which the link keeps: a fixed mapping row, never stored."""
OWNER = "owner"
IDENTITY = frozenset({PERSON_ID, "profile_url"})
"""Written on every change from the app, when the app is their canonical system."""

_SEVERAL = "holds several values; a CRM field holds one (map {single} instead)"
PERSON_FIELDS: tuple[AppFieldView, ...] = (
    AppFieldView(PERSON_ID, "Person ID", ValueKind.KEY, custom=False),
    AppFieldView(CRM_RECORD_ID, "CRM record id", ValueKind.KEY, custom=False),
    AppFieldView("profile_url", "Profile URL", ValueKind.TEXT, custom=False),
    AppFieldView("first_name", "First name", ValueKind.TEXT, custom=False),
    AppFieldView("last_name", "Last name", ValueKind.TEXT, custom=False),
    AppFieldView("email", "Email (the first)", ValueKind.TEXT, custom=False),
    AppFieldView(
        "emails",
        "Emails",
        ValueKind.TEXT,
        False,
        mappable=False,
        why=_SEVERAL.format(single="email"),
    ),
    AppFieldView("phone", "Phone (the first)", ValueKind.TEXT, custom=False),
    AppFieldView(
        "phones",
        "Phones",
        ValueKind.TEXT,
        False,
        mappable=False,
        why=_SEVERAL.format(single="phone"),
    ),
    AppFieldView("company", "Company", ValueKind.TEXT, custom=False),
    AppFieldView("title", "Job title", ValueKind.TEXT, custom=False),
    AppFieldView("city", "City", ValueKind.TEXT, custom=False),
    AppFieldView("state", "State", ValueKind.TEXT, custom=False),
    AppFieldView("zip", "Postal code", ValueKind.TEXT, custom=False),
    AppFieldView("country", "Country", ValueKind.TEXT, custom=False),
    AppFieldView("linkedin_url", "LinkedIn URL", ValueKind.TEXT, custom=False),
    AppFieldView(OWNER, "Owner", ValueKind.USER, custom=False),
)
"""The person's fields, in the order an admin reads them."""

CUSTOM_KINDS = frozenset(
    {
        ValueKind.TEXT,
        ValueKind.NUMBER,
        ValueKind.BOOLEAN,
        ValueKind.DATE,
        ValueKind.DATETIME,
        ValueKind.PICKLIST,
        ValueKind.MULTI_PICKLIST,
    }
)
"""What a custom field may hold: one value, or a multi-select picklist's values."""
PICKLISTS = frozenset({ValueKind.PICKLIST, ValueKind.MULTI_PICKLIST})


def app_fields(session: Session, org_id: str) -> list[AppFieldView]:
    """The person's fields, then the org's custom ones by name."""
    get_org(session, org_id)
    rows = session.scalars(
        select(AppField).where(AppField.org_id == org_id).order_by(AppField.name)
    )
    return [*PERSON_FIELDS, *(_view(row) for row in rows)]


def _view(row: AppField) -> AppFieldView:
    return AppFieldView(
        row.name, row.label, row.value_kind, custom=True, options=tuple(row.options)
    )


def save_app_fields(session: Session, org_id: str, command: SaveAppFields) -> list[AppFieldView]:
    """Replace the org's custom fields. A field a mapping uses may change its label only;
    anything refused changes nothing."""
    get_org(session, org_id)
    require_admin(session, org_id, command.changed_by, "its fields")
    session.execute(select(Org.id).where(Org.id == org_id).with_for_update())  # vs. a mapping
    problems = [p for f in command.fields for p in _declaration_problems(f)]
    names = [f.name for f in command.fields]
    problems += [
        f"custom field {n!r} is declared twice" for n in sorted(set(names)) if names.count(n) > 1
    ]
    current = {
        row.name: row for row in session.scalars(select(AppField).where(AppField.org_id == org_id))
    }
    mapped = mapped_app_fields(session, org_id)
    wanted = {f.name: f for f in command.fields}
    for name in sorted(set(current) & mapped):
        new = wanted.get(name)
        old = current[name]
        if new is None:
            problems.append(f"custom field {name!r} is mapped: remove its mapping before the field")
        elif new.kind != old.value_kind or list(new.options) != list(old.options):
            problems.append(
                f"custom field {name!r} is mapped: remove its mapping before changing its "
                "type or options (its label may change)"
            )
    if problems:
        raise InputError("; ".join(problems))
    for name, row in current.items():
        if name not in wanted:
            session.delete(row)
    for f in command.fields:
        row = current.get(f.name) or AppField(org_id=org_id, name=f.name)
        row.label, row.value_kind, row.options = f.label, f.kind, list(f.options)
        session.add(row)
    session.flush()
    return app_fields(session, org_id)


def _declaration_problems(field: DeclareField) -> list[str]:
    name = field.name
    if any(p.name == name for p in PERSON_FIELDS):
        return [f"{name!r} is a person field already; choose another name for a custom field"]
    if field.kind not in CUSTOM_KINDS:
        return [f"custom field {name!r}: a custom field cannot be of type {field.kind!s}"]
    if field.kind in PICKLISTS and not field.options:
        return [f"custom field {name!r}: a {field.kind!s} needs its options"]
    if field.kind not in PICKLISTS and field.options:
        return [f"custom field {name!r}: only a picklist has options"]
    if len(set(field.options)) != len(field.options):
        return [f"custom field {name!r}: an option is listed twice"]
    return []


def mapped_app_fields(session: Session, org_id: str) -> set[str]:
    """App fields a mapping of the org's active connection uses."""
    conn = active_connection(session, org_id)
    if conn is None:
        return set()
    rows = session.scalars(
        select(FieldMapping.app_field)
        .join(ObjectMapping, ObjectMapping.id == FieldMapping.object_mapping_id)
        .join(Flow, Flow.id == ObjectMapping.flow_id)
        .where(Flow.target == conn.id, FieldMapping.crm_field.is_not(None))
    )
    return set(rows)
