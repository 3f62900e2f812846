"""Every method of the sync ``Client`` against the real host API, checked by what the service
stored: read back through another call, the database, or the emulated CRM."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from crmsync.client import (
    Client,
    Conversation,
    CustomField,
    Forbidden,
    InvalidInput,
    ObjectMapping,
    Person,
    Unlock,
)
from crmsync.db.tables import Person as PersonRow
from crmsync.db.tables import User as UserRow
from crmsync.db.tables import WorkItem
from tests.client.conftest import METRICS_TOKEN, mark_failed
from tests.support.world import API_KEY, World, world


def _team(client: Client) -> None:
    client.create_org("Acme Inc", id="org1")
    client.create_user("org1", "admin@acme.test", id="u1", name="Ann Admin", role="admin")


def test_people_are_stored_as_sent_one_or_many(w: World, client: Client) -> None:
    saved = client.put_person(
        "p1", Person(first_name="Ada", last_name="Lovelace", emails=["ada@example.com"])
    )
    batch = client.put_people(
        {"p2": Person(first_name="Grace"), "p1": Person(first_name="Ada", company="AE")}
    )
    assert (saved.person_id, saved.first_name, saved.emails) == ("p1", "Ada", ["ada@example.com"])
    assert (batch.accepted, batch.created, batch.changed) == (2, 1, 1)
    with w.rt.db.session() as session:
        rows = {p.person_id: p for p in session.scalars(select(PersonRow))}
        assert (rows["p1"].first_name, rows["p1"].company, rows["p1"].emails) == ("Ada", "AE", [])
        assert rows["p2"].first_name == "Grace"


def test_orgs_and_users_are_created_and_users_changed(w: World, client: Client) -> None:
    org = client.create_org("Acme Inc", id="org1")
    user = client.create_user("org1", "sam@acme.test", id="u1", role="admin", password="x" * 12)
    disabled = client.update_user("org1", "u1", disabled=True)
    assert (org.id, org.name) == ("org1", "Acme Inc")
    assert (user.org_id, user.email, user.role, user.disabled) == (
        "org1",
        "sam@acme.test",
        "admin",
        False,
    )
    assert disabled.disabled is True
    with w.rt.db.session() as session:
        row = session.get_one(UserRow, "u1")
        first_hash = row.password_hash
        assert row.disabled is True and first_hash
    client.update_user("org1", "u1", password="y" * 12, disabled=False)
    with w.rt.db.session() as session:
        row = session.get_one(UserRow, "u1")
        assert row.disabled is False
        assert row.password_hash != first_hash


def test_a_connected_org_gets_its_unlocks_in_the_crm(w: World, client: Client) -> None:
    _team(client)
    authorization = client.connect("org1", "hubspot")
    assert "client_id=" in authorization.authorize_url
    w.authorize(authorization.authorize_url)
    client.put_person("p1", Person(first_name="Ada", emails=["ada@example.com"]))
    client.put_person("p2", Person(first_name="Grace"))
    one = client.unlock("org1", "p1", unlocked_by="u1")
    many = client.unlock_many("org1", [Unlock(person_id="p2", unlocked_by="u1")])
    assert (one.accepted, one.new, many.accepted, many.new) == (1, 1, 1, 1)
    w.drain()

    connection = client.get_connection("org1")
    assert (connection.provider, connection.status, connection.counts.synced) == (
        "hubspot",
        "connected",
        2,
    )
    sync = client.person_sync("org1", "p1")
    [record] = w.records_by_person()["p1"]
    assert (sync.status, sync.crm_id, sync.queued) == ("inserted", record.crm_id, False)
    assert sync.last_operation is not None and sync.last_operation.person_id == "p1"
    [op] = client.list_operations("org1", person_id="p2")
    assert (op.status, op.lane, op.crm_id) == (
        "inserted",
        "live",
        w.records_by_person()["p2"][0].crm_id,
    )


def test_conversations_are_enabled_and_recorded(w: World, client: Client) -> None:
    _team(client)
    w.authorize(client.connect("org1", "hubspot").authorize_url)
    client.put_person("p1", Person(first_name="Ada"))
    assert client.get_connection("org1").conversations_enabled is False
    assert client.update_connection("org1", conversations_enabled=True).conversations_enabled
    talk = Conversation(
        id="c1",
        person_id="p1",
        channel="note",
        direction="outbound",
        body="Met at the fair.",
        occurred_at=datetime(2026, 12, 4, 9, 0, tzinfo=UTC),
    )
    saved = client.record_conversations("org1", [talk])
    assert (saved.accepted, saved.created, saved.contacts_queued) == (1, 1, 1)
    assert client.record_conversations("org1", [talk]).unchanged == 1
    w.drain()
    [op] = [o for o in client.list_operations("org1") if o.entity == "conversation"]
    assert (op.person_id, op.status) == ("c1", "inserted")


def test_connection_options_setup_reconnect_and_disconnect(w: World, client: Client) -> None:
    _team(client)
    w.authorize(client.connect("org1", "hubspot", skip_backfill=True).authorize_url)
    changed = client.update_connection("org1", preserve_manual_edits=True)
    assert changed.preserve_manual_edits is True
    assert client.get_connection("org1").preserve_manual_edits is True
    assert client.check_setup("org1").status == "connected"

    w.authorize(client.reconnect("org1").authorize_url)
    again = client.get_connection("org1")
    assert (again.id, again.status, again.skip_backfill) == (changed.id, "connected", True)

    message = client.disconnect("org1")
    assert "disconnected from hubspot" in message.detail
    assert w.connection().status == "disconnected"


def test_failed_writes_are_retried_one_or_all(w: World, client: Client) -> None:
    _team(client)
    w.authorize(client.connect("org1", "hubspot").authorize_url)
    for person_id in ("p1", "p2"):
        client.put_person(person_id, Person(first_name=person_id))
        client.unlock("org1", person_id, unlocked_by="u1")
    w.drain()
    mark_failed(w, "p1")
    [failed] = client.list_operations("org1", status="failed")

    retried = client.retry_operation("org1", failed.id)
    assert retried.detail == f"operation {failed.id} queued for retry"
    assert client.person_sync("org1", "p1").queued is True
    w.drain()
    history = client.list_operations("org1", person_id="p1")
    assert [(op.status, op.retry_of) for op in history] == [
        ("unchanged", failed.id),
        ("failed", None),
    ]

    mark_failed(w, "p2")
    assert client.retry_failed("org1").detail == "1 failed operations queued for retry"
    with w.rt.db.session() as session:
        assert list(session.scalars(select(WorkItem.local_id))) == ["p2"]


def test_the_whole_log_is_walked_page_by_page(w: World, client: Client) -> None:
    _team(client)
    w.authorize(client.connect("org1", "hubspot").authorize_url)
    people = {f"p{i}": Person(first_name=f"P{i}") for i in range(5)}
    client.put_people(people)
    client.unlock_many("org1", [Unlock(person_id=p, unlocked_by="u1") for p in people])
    w.drain()
    newest_first = [op.id for op in client.list_operations("org1", limit=500)]

    walked = list(client.iter_operations("org1", page_size=2))

    assert len(newest_first) == 5
    assert [op.id for op in walked] == newest_first
    assert [op.id for op in client.iter_operations("org1", person_id="p3")] == [
        op.id for op in walked if op.person_id == "p3"
    ]


def test_health_readiness_and_metrics(client: Client) -> None:
    assert client.health().status == "ok"
    assert client.readiness().status == "ready"
    assert "crmsync" in client.metrics(METRICS_TOKEN)


def test_an_api_key_connects_a_crm_that_takes_one(sqlite_url: str, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from crmsync.api.app import create_app
    from crmsync.providers.close.emulator.harness import CloseHarness

    with world(sqlite_url, tmp_path, "close") as w, TestClient(create_app(w.rt)) as http:
        assert isinstance(w.harness, CloseHarness)
        client = Client(http=http, api_key=API_KEY)
        _team(client)
        connection = client.connect_with_api_key("org1", "close", w.harness.emulator.config.api_key)
        assert (connection.provider, connection.status) == ("close", "connected")
        assert client.get_connection("org1").account_id == w.harness.emulator.organization_id


def test_fields_and_mappings_are_read_and_saved(w: World, client: Client) -> None:
    _team(client)
    client.create_user("org1", "max@acme.test", id="u2")
    w.authorize(client.connect("org1", "hubspot", skip_backfill=True).authorize_url)
    fields = client.save_app_fields(
        "org1", [CustomField(name="score", label="Score", type="number")], changed_by="u1"
    )
    assert [f.name for f in fields if f.custom] == ["score"]
    assert [f.name for f in client.list_app_fields("org1") if f.custom] == ["score"]
    catalogue = client.crm_fields("org1", refresh=True)
    assert catalogue.checked and "jobtitle" in {f.name for f in catalogue.fields}
    (contact,) = client.get_mappings("org1").objects
    sent = [f.sent() for f in contact.fields]
    title = next(f for f in sent if f.app_field == "title")
    title.canonical = "crm"
    objects = [ObjectMapping(local_object="contact", fields=sent)]
    with pytest.raises(Forbidden):
        client.save_mappings("org1", objects, changed_by="u2")
    saved = client.save_mappings("org1", objects, changed_by="u1")
    assert [(c.app_field, c.change) for c in saved.changes] == [("title", "now_crm")]
    with pytest.raises(InvalidInput) as refused:
        client.save_mappings("org1", [ObjectMapping(local_object="contact", fields=sent[1:])])
    assert "Person ID mapping" in refused.value.message
