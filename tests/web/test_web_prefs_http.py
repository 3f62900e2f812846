"""Sync preferences' modes, push triggers and conversations switch, and the Test tab (preview
and run), over plain HTTP: admins change, members read (and may preview), bad input says why
and changes nothing."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conformance.views import crm_record
from tests.security.test_api_fuzz import snapshot
from tests.support.world import World, world
from tests.web.test_web_server import signed_in
from tests.web.test_web_truth import _team

PAGE = "/settings/integrations"
TEST = "/settings/integrations/test"


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(f"sqlite:///{tmp_path}/crmsync.db", tmp_path, "hubspot") as instance:
        _team(instance)
        instance.connect("org1")
        instance.person("p1", first_name="Grace", last_name="Hopper", title="Admiral")
        instance.unlock("org1", "p1", "u-admin")
        instance.drain()
        yield instance


def _shown(client: TestClient, r: Any) -> str:
    """The page a form post lands on (after its redirect), as text."""
    if r.status_code == 303:
        r = client.get(r.headers["location"])
    return html.unescape(r.text)


def _status(w: World) -> dict[str, Any]:
    answer: dict[str, Any] = w.status("org1")
    return answer


def test_the_card_shows_the_modes_triggers_and_conversations(w: World) -> None:
    admin, _ = signed_in(w, "admin@acme.test")
    page = admin.get(PAGE).text
    for field in ("import_mode", "export_mode", "push_score_threshold", "push_on_unlock"):
        assert f'name="{field}"' in page, field
    assert 'name="conversations_enabled"' in page  # HubSpot exports conversations
    assert '<option value="match_existing" selected>' in page
    assert '<option value="all" selected>' in page
    member, _ = signed_in(w, "member@acme.test")
    page = member.get(PAGE).text
    block = page.split('id="sync-modes"')[1].split("</form>")[0]
    assert block.count(" disabled") >= 2 and "Save modes" not in block
    assert "Only admins can change this." in block


def test_an_admin_changes_the_modes_and_a_bad_one_changes_nothing(w: World) -> None:
    admin, token = signed_in(w, "admin@acme.test")
    body = {"import_mode": "create_new", "export_mode": "update_existing_import_new"}
    r = admin.post(PAGE + "/modes", data={**body, "csrf_token": token})
    assert r.status_code == 303
    assert "Import mode: Create new. Export mode: Update existing and import new." in _shown(
        admin, r
    )
    status = _status(w)
    assert (status["import_mode"], status["export_mode"]) == (
        "create_new",
        "update_existing_import_new",
    )
    page = admin.get(PAGE).text
    assert '<option value="create_new" selected>' in page
    before = snapshot(w)
    for bad in ({"import_mode": "everything", "export_mode": "all"}, {"import_mode": "create_new"}):
        r = admin.post(PAGE + "/modes", data={**bad, "csrf_token": token})
        assert "Nothing was changed." in _shown(admin, r), bad
    assert snapshot(w) == before
    fetch = {"X-CSRF-Token": token, "X-Requested-With": "fetch"}
    r = admin.post(PAGE + "/modes", data={"import_mode": "x"}, headers=fetch)
    assert r.status_code == 409 and "Choose an import mode" in r.json()["detail"]
    member, m_token = signed_in(w, "member@acme.test")
    r = member.post(PAGE + "/modes", data={**body, "csrf_token": m_token})
    assert r.status_code == 403
    assert snapshot(w) == before


def test_push_triggers_are_saved_and_a_bad_threshold_changes_nothing(w: World) -> None:
    admin, token = signed_in(w, "admin@acme.test")
    r = admin.post(
        PAGE + "/push-triggers", data={"push_score_threshold": " 42.5 ", "csrf_token": token}
    )
    shown = _shown(admin, r)
    assert "a score of 42.5 or more pushes a contact; an unlock does not push" in shown
    push = _status(w)["push"]
    assert (push["score_threshold"], push["on_unlock"]) == (42.5, False)
    assert 'value="42.5"' in admin.get(PAGE).text
    before = snapshot(w)
    for bad in ("fifty", "nan", "inf", "1e400", "\uff11\uff12"):  # full-width 12
        form = {"push_score_threshold": bad, "push_on_unlock": "on", "csrf_token": token}
        shown = _shown(admin, admin.post(PAGE + "/push-triggers", data=form))
        assert "The score threshold must be a number" in shown, bad
    assert snapshot(w) == before
    form = {"push_score_threshold": "", "push_on_unlock": "on", "csrf_token": token}
    shown = _shown(admin, admin.post(PAGE + "/push-triggers", data=form))
    assert "no score pushes a contact; an unlock pushes the contact" in shown
    push = _status(w)["push"]
    assert (push["score_threshold"], push["on_unlock"]) == (None, True)
    member, m_token = signed_in(w, "member@acme.test")
    form = {"push_score_threshold": "1", "csrf_token": m_token}
    assert member.post(PAGE + "/push-triggers", data=form).status_code == 403
    assert _status(w)["push"]["score_threshold"] is None


def test_the_conversations_switch(w: World) -> None:
    admin, token = signed_in(w, "admin@acme.test")
    form = {"conversations_enabled": "on", "csrf_token": token}
    assert "Exporting conversations is on." in _shown(
        admin, admin.post(PAGE + "/conversations", data=form)
    )
    assert _status(w)["conversations_enabled"] is True
    assert re.search(r'name="conversations_enabled" value="on"[^>]* checked', admin.get(PAGE).text)
    member, m_token = signed_in(w, "member@acme.test")
    assert member.post(PAGE + "/conversations", data={"csrf_token": m_token}).status_code == 403
    assert _status(w)["conversations_enabled"] is True
    shown = _shown(admin, admin.post(PAGE + "/conversations", data={"csrf_token": token}))
    assert "Exporting conversations is off." in shown
    assert _status(w)["conversations_enabled"] is False


def test_an_export_preview_shows_each_field_and_writes_nothing(w: World) -> None:
    w.person("p1", first_name="Grace", last_name="Hopper", title="Commodore")
    for email in ("admin@acme.test", "member@acme.test"):
        client, token = signed_in(w, email)
        writes, before = w.harness.write_calls(), snapshot(w)
        form = {"direction": "export", "person_id": "p1", "csrf_token": token}
        r = client.post(TEST + "/preview", data=form)
        assert r.status_code == 200, r.text[:400]
        page = html.unescape(r.text)
        assert 'data-status="updated"' in page
        assert re.search(r'data-field="title" data-outcome="sent"', page)
        assert re.search(r'data-field="last_name" data-outcome="not_sent"', page)
        assert "Commodore" in page and "This was a preview: nothing was written." in page
        assert w.harness.write_calls() == writes and snapshot(w) == before, email
    assert crm_record(w, "p1").values["title"] == "Admiral"


def test_run_test_exports_for_real_and_the_log_shows_it_at_the_top(w: World) -> None:
    w.person("p1", first_name="Grace", last_name="Hopper", title="Commodore")
    member, m_token = signed_in(w, "member@acme.test")
    form = {"direction": "export", "person_id": "p1"}
    r = member.post(TEST + "/run", data={**form, "csrf_token": m_token})
    assert r.status_code == 403 and "Only an organisation admin" in r.text
    assert "data-test-run disabled" in member.get(TEST).text
    assert crm_record(w, "p1").values["title"] == "Admiral"
    admin, token = signed_in(w, "admin@acme.test")
    r = admin.post(TEST + "/run", data={**form, "csrf_token": token})
    assert r.status_code == 200, r.text[:400]
    assert "data-test-ran" in r.text and "Done for real: updated" in r.text
    assert crm_record(w, "p1").values["title"] == "Commodore"
    op = re.search(r"operation (\d+)\)", r.text)
    assert op is not None
    logs = admin.get("/settings/logs").text
    first = re.search(r'<tr id="op-(\d+)"', logs)
    assert first is not None and first.group(1) == op.group(1)


def test_an_import_preview_and_run(w: World) -> None:
    crm_id = w.harness.create_by_hand(
        {"first_name": "Alan", "last_name": "Turing", "email": "alan@bletchley.test"}
    )
    admin, token = signed_in(w, "admin@acme.test")
    form = {"direction": "import", "crm_id": crm_id, "csrf_token": token}
    page = html.unescape(admin.post(TEST + "/preview", data=form).text)
    assert 'data-status="ignored"' in page and "match_existing" in page
    w.api.patch("/api/v1/orgs/org1/connection", json={"import_mode": "create_new"})
    page = html.unescape(admin.post(TEST + "/preview", data=form).text)
    assert 'data-status="inserted"' in page and "Turing" in page
    r = admin.post(TEST + "/run", data=form)
    assert r.status_code == 200 and "data-test-ran" in r.text, r.text[:400]
    op = re.search(r"operation (\d+)\)", r.text)
    assert op is not None
    first = re.search(r'<tr id="op-(\d+)"', admin.get("/settings/logs").text)
    assert first is not None and first.group(1) == op.group(1)


@pytest.mark.parametrize(
    ("form", "said", "status"),
    [
        ({"direction": "export", "person_id": "p-nobody"}, "no contact p-nobody", 404),
        ({"direction": "import", "crm_id": "999999999"}, "no record 999999999", 404),
        ({"direction": "sideways", "person_id": "p1"}, "Choose a direction", 422),
        ({"direction": "export", "crm_id": "1"}, "Enter an app contact's person id", 422),
        ({"direction": "import", "person_id": "p1"}, "Enter a CRM record id", 422),
    ],
)
def test_unknown_ids_and_bad_choices_say_why_and_change_nothing(
    w: World, form: dict[str, str], said: str, status: int
) -> None:
    admin, token = signed_in(w, "admin@acme.test")
    before, writes = snapshot(w), w.harness.write_calls()
    for action in ("/preview", "/run"):
        r = admin.post(TEST + action, data={**form, "csrf_token": token})
        assert r.status_code == 422, (action, r.text[:400])  # the form again, with why
        page = html.unescape(r.text)
        assert said in page and "Nothing was changed." in page, page[:2000]
        assert 'id="test-result"' not in page
    fetch = {"X-CSRF-Token": token, "X-Requested-With": "fetch"}
    r = admin.post(TEST + "/preview", data=form, headers=fetch)
    assert r.status_code == status and said in r.json()["detail"]
    assert snapshot(w) == before and w.harness.write_calls() == writes
