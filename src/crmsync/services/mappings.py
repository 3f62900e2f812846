"""The connection's mappings as an admin sees and changes them: per object mapping, each app
field's CRM field and canonical system.

A saved set applies from the next sync (a run loads its flow when it starts,
``engine.reads.load_flow``) and rewrites nothing by itself: a record is written with the new
mapping when it next changes, and the answer says so, field by field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from crmsync.db.tables import Connection, FieldMapping, Org
from crmsync.domain.commands import SaveMappings
from crmsync.domain.enums import System
from crmsync.domain.mapping import APP, FieldMap, ValueKind
from crmsync.domain.records import FieldDescription
from crmsync.domain.views import (
    AppFieldView,
    FieldMappingView,
    MappingChange,
    MappingsView,
    ObjectMappingView,
    SavedMappings,
)
from crmsync.engine.runtime import Runtime
from crmsync.errors import Conflict, InputError
from crmsync.services import crm_catalogue
from crmsync.services.app_fields import CRM_RECORD_ID, OWNER, PERSON_ID, app_fields
from crmsync.services.connections import require_connection
from crmsync.services.mapping_rules import Checked, Fixed, check
from crmsync.services.mapping_store import field_rows, object_mappings, replace_fields
from crmsync.services.orgs import require_admin

FULL_SYNC = (
    'A full sync (POST /api/v1/orgs/{org}/connection/sync with {"full": true}) reads every '
    "record back now: CRM values of fields the CRM owns that differ from what was last agreed "
    "are taken into the app, and app-owned values changed in the CRM are put back. It writes no "
    "other record."
)


class MappingProblems(InputError):
    """A refused set: every problem, each naming its row (the message joins them)."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


def fixed_fields(rt: Runtime, conn: Connection) -> Fixed:
    connector = rt.provider(conn.provider).connector
    specs = connector.default_fields(rt.app)
    person_id = next(f.crm_field for f in specs if f.app_field == PERSON_ID)
    owner = next((f.crm_field for f in specs if f.app_field == OWNER), None)
    return Fixed(
        connector.spec.display_name,
        person_id or PERSON_ID,
        connector.spec.record_id_field,
        owner,
        frozenset((f.app_field, f.crm_field) for f in specs if f.crm_field),
    )


def mappings_view(rt: Runtime, session: Session, conn: Connection) -> MappingsView:
    fixed = fixed_fields(rt, conn)
    checked = crm_catalogue.describes(rt, conn)
    kept = crm_catalogue.cached(session, conn) if checked else None
    custom = {f.name: f.custom for f in kept[0]} if kept else None
    objects = tuple(
        ObjectMappingView(
            obj.local_object,
            obj.crm_object,
            obj.direction,
            _rows(field_rows(session, obj.id), conn.id, fixed, custom),
        )
        for obj in object_mappings(session, conn.id)
    )
    note = (
        ""
        if checked
        else f"{fixed.crm} cannot describe its fields to crmsync: CRM field names are taken as "
        "given, unchecked (a misspelt one fails the records' writes, with the CRM's reason)"
    )
    return MappingsView(conn.id, conn.provider, checked, objects, note)


def _rows(
    rows: Sequence[FieldMapping],
    connection_id: str,
    fixed: Fixed,
    custom: Mapping[str, bool] | None,
) -> tuple[FieldMappingView, ...]:
    def one(
        app_field: str, crm_field: str, canonical: str, kind: str, identity: bool
    ) -> FieldMappingView:
        fixed_row = app_field in (PERSON_ID, CRM_RECORD_ID)
        in_crm = None if custom is None else custom.get(crm_field)
        return FieldMappingView(app_field, crm_field, canonical, kind, identity, fixed_row, in_crm)

    out = [
        one(r.app_field, r.crm_field or "", _canonical(r.source_of_truth), r.value_kind, r.identity)
        for r in rows
    ]
    record_id = one(CRM_RECORD_ID, fixed.record_id_field, System.CRM, ValueKind.KEY, False)
    at = next((i + 1 for i, r in enumerate(out) if r.app_field == PERSON_ID), 0)
    return (*out[:at], record_id, *out[at:])


def _canonical(source_of_truth: str) -> str:
    return System.APP.value if source_of_truth == APP else System.CRM.value


async def save_mappings(rt: Runtime, org_id: str, command: SaveMappings) -> SavedMappings:
    """Check the whole set and save it, or refuse it whole (422) and change nothing. The CRM
    is asked for its catalogue outside any transaction; the set is checked again, and saved,
    in one transaction holding the org's row, so a custom field removed meanwhile is caught."""
    with rt.db.session() as session:
        conn = require_connection(session, org_id)
        require_admin(session, org_id, command.changed_by, "its mappings")
        _check_objects(command, {o.local_object: o for o in object_mappings(session, conn.id)})
        fixed = fixed_fields(rt, conn)
        describes = crm_catalogue.describes(rt, conn)
        kept = crm_catalogue.cached(session, conn) if describes else None
    wanted = {f.crm_field for obj in command.objects for f in obj.fields}
    fetched = None
    if describes and _stale(kept, wanted - {fixed.record_id_field, fixed.person_id_field}):
        fetched = await crm_catalogue.fetch(rt, conn)  # none yet, or a field created since
    catalogue = fetched if fetched is not None else kept[0] if kept else None
    with rt.db.session() as session:
        session.execute(select(Org.id).where(Org.id == org_id).with_for_update())
        if require_connection(session, org_id).id != conn.id:
            raise Conflict("the organisation's connection changed meanwhile; try again")
        conn = session.get_one(Connection, conn.id)
        objects = {o.local_object: o for o in object_mappings(session, conn.id)}
        app = {f.name: f for f in app_fields(session, org_id)}
        checked = _checked(command, app, catalogue, fixed, conn.id)
        if fetched is not None:
            crm_catalogue.store(session, conn, fetched)
        provided = {f.name: "custom" if f.custom else "standard" for f in catalogue or ()}
        changes: list[MappingChange] = []
        for local_object, result in checked.items():
            obj = objects[local_object]
            before = _field_maps(field_rows(session, obj.id))
            replace_fields(session, obj.id, result.fields, provided)
            changes += effects(local_object, before, result.fields, fixed.crm)
        view = mappings_view(rt, session, conn)
    return SavedMappings(view, tuple(changes), _summary(changes), FULL_SYNC)


def _checked(
    command: SaveMappings,
    app: Mapping[str, AppFieldView],
    catalogue: Sequence[FieldDescription] | None,
    fixed: Fixed,
    connection_id: str,
) -> dict[str, Checked]:
    """Each object mapping's field maps, or an InputError naming every problem of the set."""
    by_name = None if catalogue is None else {f.name: f for f in catalogue}
    problems: list[str] = []
    checked: dict[str, Checked] = {}
    for proposed in command.objects:
        result = check(proposed, app, by_name, fixed, connection_id)
        if isinstance(result, Checked):
            checked[proposed.local_object] = result
        else:
            prefix = f"{proposed.local_object}: " if len(command.objects) > 1 else ""
            problems += [prefix + p for p in result]
    if problems:
        raise MappingProblems(problems)
    return checked


def _stale(kept: tuple[list[FieldDescription], object] | None, wanted: set[str]) -> bool:
    """No catalogue kept, or one that lacks a field the set names: the CRM is asked again
    (its admin may have just created the field), and only a saved set keeps the answer."""
    return kept is None or not wanted <= {f.name for f in kept[0]}


def _check_objects(command: SaveMappings, objects: Mapping[str, object]) -> None:
    names = [obj.local_object for obj in command.objects]
    unknown = sorted(set(names) - set(objects))
    if unknown:
        raise InputError(
            f"the connection maps no object {unknown[0]!r} (it maps {', '.join(objects)})"
        )
    if len(set(names)) != len(names) or set(names) != set(objects):
        raise InputError(f"list each object mapping once: {', '.join(objects)}")


def _field_maps(rows: Sequence[FieldMapping]) -> list[FieldMap]:
    return [
        FieldMap(
            r.app_field, r.crm_field or "", ValueKind(r.value_kind), r.source_of_truth, r.identity
        )
        for r in rows
    ]


def effects(
    local_object: str, before: Sequence[FieldMap], after: Sequence[FieldMap], crm: str
) -> list[MappingChange]:
    """What each difference does from the next sync on; nothing is rewritten at once."""
    old = {f.local_field: f for f in before}
    new = {f.local_field: f for f in after}
    out: list[MappingChange] = []

    def say(app_field: str, change: str, effect: str) -> None:
        out.append(MappingChange(local_object, app_field, change, effect))

    for name in old.keys() - new.keys():
        say(
            name,
            "removed",
            f"no longer written or read; values already in the app and in {crm} stay as they are",
        )
    for name, f in new.items():
        was = old.get(name)
        app_owned = f.source_of_truth == APP
        if was is None:
            say(
                name,
                "added",
                f"written to {crm}'s {f.crm_field!r} on each record's next change in the app "
                "(and on every new record); existing records are not rewritten at once"
                if app_owned
                else f"{crm}'s {f.crm_field!r} is taken into the app on each record's next change "
                f"in {crm}, or for every record with a full sync; new records get the app's value",
            )
        elif was.crm_field != f.crm_field:
            say(
                name,
                "crm_field_changed",
                f"kept in {f.crm_field!r} instead of {was.crm_field!r} from each record's next "
                f"{'change in the app' if app_owned else 'change in ' + crm}; {was.crm_field!r} "
                "keeps the values it has",
            )
        elif was.source_of_truth != f.source_of_truth:
            say(
                name,
                "now_app" if app_owned else "now_crm",
                f"the app's value is written on each record's next change in the app; a {crm} "
                "edit after that is put back at the next sync"
                if app_owned
                else f"crmsync stops writing it; edits made in {crm} reach the app (the change "
                "feed) from the next sync",
            )
    order = {f.local_field: i for i, f in enumerate([*after, *before])}
    return sorted(out, key=lambda c: order.get(c.app_field, 0))


def _summary(changes: Sequence[MappingChange]) -> str:
    if not changes:
        return "Saved: nothing changed."
    return (
        f"Saved: {len(changes)} {'changes apply' if len(changes) > 1 else 'change applies'} "
        "from the next sync; "
        "no record is rewritten now."
    )
