"""Each import and export mode's decision, at the pure functions the run and the preview share
(``admission.decide_import``, ``planner.plan_write``)."""

from __future__ import annotations

from typing import Any

import pytest

from crmsync.domain.mapping import APP, FieldMap, FieldMaps, ValueKind
from crmsync.domain.modes import ExportMode, ImportMode, PreviewStatus
from crmsync.domain.records import Change, ChangeKind, RemoteRecord
from crmsync.engine.admission import ImportRules, Target, Via, decide_import
from crmsync.engine.planner import desired_fields, plan_write

CRM = "conn-1"
MAPPINGS = FieldMaps.of(
    [
        FieldMap("person_id", "acme_person_id", ValueKind.KEY, APP, identity=True),
        FieldMap("email", "email", ValueKind.TEXT, APP),
        FieldMap("title", "jobtitle", ValueKind.TEXT, CRM),
        FieldMap("company", "company", ValueKind.TEXT, APP),
        FieldMap("owner", "hubspot_owner_id", ValueKind.USER, CRM),
    ]
)
USERS = {"42": "ann@acme.test"}
RECORD = {
    "acme_person_id": "p1",
    "email": "p1@example.com",
    "jobtitle": "CTO",
    "company": "Initech",
    "hubspot_owner_id": "42",
}


def upserted(fields: dict[str, Any] | None = None, archived: bool = False) -> Change:
    record = RemoteRecord("c1", {**RECORD, **(fields or {})}, archived=archived)
    return Change(ChangeKind.UPSERTED, "c1", "2026-12-04T00:00:00Z", record=record)


def rules(mode: ImportMode) -> ImportRules:
    return ImportRules(MAPPINGS, CRM, USERS, mode)


# -- import ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [ImportMode.MATCH_EXISTING, ImportMode.UPDATE_EXISTING])
def test_an_unmatched_record_is_ignored_unless_the_mode_creates(mode: ImportMode) -> None:
    decision = decide_import(upserted(), Target(Via.NONE), rules(mode))
    assert decision.status is PreviewStatus.IGNORED
    assert f"import mode {mode}" in decision.reason
    assert decision.reconciled is None


def test_create_new_makes_an_unmatched_record_a_new_contact_with_every_field() -> None:
    decision = decide_import(upserted(), Target(Via.NONE), rules(ImportMode.CREATE_NEW))
    assert decision.status is PreviewStatus.INSERTED
    assert decision.reconciled is not None
    assert decision.reconciled.taken == {
        "person_id": "p1",
        "email": "p1@example.com",
        "title": "CTO",
        "company": "Initech",
        "owner": "ann@acme.test",
    }


def test_match_existing_takes_only_crm_owned_fields_at_a_match() -> None:
    target = Target(Via.MATCHED, "p1", {}, why="email")
    decision = decide_import(upserted(), target, rules(ImportMode.MATCH_EXISTING))
    assert decision.status is PreviewStatus.UPDATED
    assert decision.reconciled is not None
    assert decision.reconciled.taken == {"title": "CTO", "owner": "ann@acme.test"}
    assert sorted(decision.reconciled.drift) == ["acme_person_id", "company", "email"]
    assert "matched by email" in decision.reason


def test_update_existing_takes_every_field_with_a_value_at_a_match() -> None:
    target = Target(Via.MATCHED, "p1", {}, why="Person ID")
    decision = decide_import(upserted(), target, rules(ImportMode.UPDATE_EXISTING))
    assert decision.status is PreviewStatus.UPDATED
    assert decision.reconciled is not None
    assert decision.reconciled.taken["company"] == "Initech", "an app-owned field taken too"
    assert decision.reconciled.drift == []


@pytest.mark.parametrize("mode", list(ImportMode))
def test_once_linked_every_mode_follows_the_ownership_rules(mode: ImportMode) -> None:
    target = Target(Via.LINKED, "p1", dict(RECORD))
    changed = upserted({"company": "Pirates", "jobtitle": "CEO"})
    decision = decide_import(changed, target, rules(mode))
    assert decision.status is PreviewStatus.UPDATED
    assert decision.reconciled is not None
    assert decision.reconciled.taken == {"title": "CEO"}
    assert decision.reconciled.drift == ["company"]
    quiet = decide_import(upserted(), target, rules(mode))
    assert quiet.status is PreviewStatus.UNCHANGED


def test_an_archived_record_deactivates_a_linked_contact_and_ignores_others() -> None:
    linked = Target(Via.LINKED, "p1", dict(RECORD))
    mode = rules(ImportMode.CREATE_NEW)
    assert decide_import(upserted(archived=True), linked, mode).status is PreviewStatus.DEACTIVATED
    unlinked = decide_import(upserted(archived=True), Target(Via.NONE), mode)
    assert unlinked.status is PreviewStatus.IGNORED, "a deleted record is never created"


# -- export ---------------------------------------------------------------------------------

EXPORT = FieldMaps.of(
    [
        FieldMap("person_id", "acme_person_id", ValueKind.KEY, APP, identity=True),
        FieldMap("title", "jobtitle", ValueKind.TEXT, APP),
        FieldMap("company", "company", ValueKind.TEXT, CRM),
    ]
)
DESIRED = desired_fields({"person_id": "p1", "title": "CTO", "company": "Initech"}, EXPORT, {})
WRITTEN = {"acme_person_id": "p1", "jobtitle": "Eng", "company": "Acme"}


@pytest.mark.parametrize("mode", list(ExportMode))
def test_a_missing_record_is_created_with_every_mapped_field_crm_owned_included(
    mode: ExportMode,
) -> None:
    plan = plan_write(DESIRED, EXPORT, None, False, APP, mode)
    assert plan.first_write
    assert plan.send == {"acme_person_id": "p1", "jobtitle": "CTO", "company": "Initech"}


def test_match_existing_import_new_never_updates_an_existing_record() -> None:
    plan = plan_write(DESIRED, EXPORT, WRITTEN, False, APP, ExportMode.MATCH_EXISTING_IMPORT_NEW)
    assert plan.unchanged and plan.ignored
    assert "export mode match_existing_import_new" in plan.reason


@pytest.mark.parametrize("mode", [ExportMode.ALL, ExportMode.UPDATE_EXISTING_IMPORT_NEW])
def test_updating_modes_write_only_app_owned_fields_to_existing_records(mode: ExportMode) -> None:
    plan = plan_write(DESIRED, EXPORT, WRITTEN, False, APP, mode)
    assert not plan.first_write and not plan.ignored
    assert plan.send == {"jobtitle": "CTO"}, "company is the CRM's: not overwritten"
