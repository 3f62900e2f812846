"""The admin UI tells the truth: counts, log and buttons agree; every operation is labelled
with the CRM it was written to; the person page links to the record and can sync it again."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from crmsync.db.tables import Connection, Operation, WorkItem
from tests.support.world import World, world
from tests.web.test_web_server import PASSWORD, signed_in


def _team(instance: World) -> World:
    instance.org("org1")
    for user_id, email, role in (
        ("u-admin", "admin@acme.test", "admin"),
        ("u-member", "member@acme.test", "member"),
    ):
        body = {"id": user_id, "email": email, "role": role, "password": PASSWORD}
        assert instance.api.post("/api/v1/orgs/org1/users", json=body).status_code == 201
    return instance


@pytest.fixture
def w(db_url: str, tmp_path: Path) -> Iterator[World]:
    with world(db_url, tmp_path, "hubspot", max_attempts=2) as instance:
        yield _team(instance)


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr id="op-(\d+)"', page)


def _gave_up(w: World) -> None:
    """p-ok lands; p-lost's create hits a server error on every attempt until crmsync gives
    up (the engine then leaves the person's link as it was)."""
    w.connect("org1")
    w.person("p-ok")
    w.unlock("org1", "p-ok", "u-admin")
    w.drain()  # the setup check and owner list are fresh from here on
    w.person("p-lost", first_name="Zoë", last_name="Brontë")
    w.harness.set_faults({"500": 1.0})
    w.unlock("org1", "p-lost", "u-admin")
    w.drain()
    w.harness.set_faults({})


def test_a_create_that_gave_up_is_counted_listed_and_retried_alike(w: World) -> None:
    _gave_up(w)
    [failed] = w.operations(status="failed")
    assert failed["person_id"] == "p-lost" and "gave up after 2 attempts" in failed["reason"]
    assert w.status()["counts"]["failed"] == 1  # was 0: counted from the links

    admin, token = signed_in(w, "admin@acme.test")
    card = admin.get("/settings/integrations").text
    assert re.search(r'data-count="failed">1<', card)
    page = admin.get("/settings/logs", params={"status": "failed"}).text
    assert _rows(page) == [str(failed["id"])]
    assert "1 operation: each person's latest run" in page
    button = re.search(r"<button[^>]*>Retry all failed[^<]*</button>", page)
    assert button and "disabled" not in button.group(0) and "(1)" in button.group(0)

    r = admin.post("/settings/logs/retry-failed", data={"csrf_token": token})
    assert r.status_code == 303
    assert "Retrying 1 failed operation." in admin.get("/settings/logs").text
    w.drain()
    assert w.status()["counts"]["failed"] == 0
    page = admin.get("/settings/logs", params={"status": "failed"}).text
    assert _rows(page) == []  # the old failure is history: the card says 0, so does the log
    button = re.search(r"<button[^>]*>Retry all failed[^<]*</button>", page)
    assert button and "disabled" in button.group(0)


def test_the_log_shows_names_times_sentences_and_text_as_itself(w: World) -> None:
    _gave_up(w)
    admin, _ = signed_in(w, "admin@acme.test")
    page = admin.get("/settings/logs", params={"status": "failed"}).text
    assert "Zoë Brontë</span>" in page and "p-lost</span>" in page  # the name beside the id
    assert "Brontë" in page.split("<h3>Request</h3>")[1]  # not \u00eb in the JSON
    assert "\\u00eb" not in page
    assert "data-updated-at" in page  # the latest attempt's time, not only the creation
    reason = re.search(r'class="reason">\s*<span>([^<]*)</span>', page)
    assert reason and reason.group(1).startswith("Gave up after 2 attempts")
    assert reason.group(1).endswith(".")
    assert "What the lanes mean" in page
    assert re.search(r'<abbr class="lane" title="Live: [^"]+" data-lane>live</abbr>', page)


def test_the_log_pages_both_ways_with_a_total(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from crmsync.web import routes_logs

    monkeypatch.setattr(routes_logs, "PAGE_SIZE", 2)
    w.connect("org1")
    for i in range(5):
        w.person(f"p{i}")
        w.unlock("org1", f"p{i}", "u-admin")
    w.drain()
    admin, _ = signed_in(w, "admin@acme.test")
    first = admin.get("/settings/logs").text
    ids = _rows(first)
    assert len(ids) == 2 and "1\N{EN DASH}2 of 5 operations" in first
    assert "Newer operations" not in first
    older = re.search(r'href="(/settings/logs\?[^"]*before=\d+)">Older operations', first)
    assert older
    second = admin.get(older.group(1).replace("&amp;", "&")).text
    assert "3\N{EN DASH}4 of 5 operations" in second and not set(_rows(second)) & set(ids)
    newer = re.search(r'href="(/settings/logs\?[^"]*after=\d+)">Newer operations', second)
    assert newer
    back = admin.get(newer.group(1).replace("&amp;", "&")).text
    assert _rows(back) == ids and "1\N{EN DASH}2 of 5 operations" in back


def test_unknown_settings_pages_get_the_apps_own_404(w: World) -> None:
    admin, _ = signed_in(w, "admin@acme.test")
    r = admin.get("/settings/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "Page not found" in r.text and 'href="/settings/integrations"' in r.text
    assert w.api.get("/api/v1/nothing-here").json() == {"detail": "Not Found"}  # the API's


def _earlier_close_connection(w: World) -> str:
    """The org synced p1 to an earlier connection, then switched CRMs. (One emulator per
    world: the earlier connection is made Close's in the database.)"""
    w.connect("org1")
    w.person("p1", first_name="Grace", last_name="Hopper")
    w.unlock("org1", "p1", "u-admin")
    w.drain()
    old = w.connection()
    assert w.api.delete("/api/v1/orgs/org1/connection").status_code == 200
    with w.rt.db.session() as session:
        session.execute(update(Connection).where(Connection.id == old.id).values(provider="close"))
    w.connect("org1", skip_backfill=True)
    w.person("p1", first_name="Grace", last_name="Hopper", title="Rear Admiral")  # a change
    w.drain()
    return old.id


def test_operations_keep_the_crm_they_were_written_to(w: World) -> None:
    old = _earlier_close_connection(w)
    ops = w.operations(person_id="p1")
    assert {(op["provider"], op["connection_id"] == old) for op in ops} == {
        ("hubspot", False),
        ("close", True),
    }
    admin, _ = signed_in(w, "admin@acme.test")
    log = admin.get("/settings/logs").text  # today's connection only
    assert len(_rows(log)) == 1 and "in HubSpot" in log and "Close" not in log.split("<table")[1]
    assert f'<option value="{old}">Close (' in log
    earlier = admin.get("/settings/logs", params={"connection": old}).text
    assert "Created contact" in earlier and "in Close." in earlier and "in HubSpot" not in earlier

    person = admin.get("/settings/people/p1").text
    current, previous = person.split('class="card person-connection"')[1:]
    assert "<h2" in current and ">HubSpot</h2>" in current and "The current connection" in current
    assert ">Close</h2>" in previous and "An earlier connection" in previous
    assert "in Close." in previous and "in HubSpot" not in previous
    assert "in Close" not in current


def test_the_person_page_links_to_the_record_and_shows_what_was_written(w: World) -> None:
    w.connect("org1")
    w.person("p1", first_name="Zoë")
    w.unlock("org1", "p1", "u-admin")
    w.drain()
    [record] = w.harness.records()
    admin, _ = signed_in(w, "admin@acme.test")
    page = admin.get("/settings/people/p1").text
    link = re.search(r'<a href="([^"]+)"[^>]*data-crm-link>', page)
    assert link, "the page promises a link to the CRM record"
    assert link.group(1) == f"https://app.hubspot.com/contacts/12345678/record/0-1/{record.crm_id}"
    written = page.split("data-written")[1].split("</table>")[0]
    assert "<code>firstname</code></th><td>Zoë</td>" in written
    assert "data-last-synced" in page

    async def emulator_page() -> httpx.Response:
        async with httpx.AsyncClient(transport=w.router) as client:
            return await client.get(link.group(1))

    shown = asyncio.run(emulator_page())  # the emulator serves the record's page
    assert shown.status_code == 200 and "Zoë" in shown.text and record.crm_id in shown.text


def test_sync_to_crm_pushes_live_for_admins_only(w: World) -> None:
    """The person page's "Sync to CRM" is the manual push of the host API (live lane)."""
    w.connect("org1")
    w.person("p1")
    w.unlock("org1", "p1", "u-admin")
    w.drain()
    member, member_token = signed_in(w, "member@acme.test")
    assert "Sync to CRM" not in member.get("/settings/people/p1").text
    r = member.post("/settings/people/p1/sync", data={"csrf_token": member_token})
    assert r.status_code == 403
    admin, token = signed_in(w, "admin@acme.test")
    assert "Sync to CRM</button>" in admin.get("/settings/people/p1").text
    r = admin.post("/settings/people/p1/sync", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/settings/people/p1"
    assert "sent to the CRM in a moment" in admin.get("/settings/people/p1").text
    with w.rt.db.session() as session:
        [item] = session.scalars(select(WorkItem)).all()
        assert (item.local_id, item.lane) == ("p1", "live")
    w.drain()
    newest = w.operations(person_id="p1")[0]
    assert newest["lane"] == "live" and newest["status"] == "unchanged"
    with w.rt.db.session() as session:
        assert session.scalar(select(Operation.id).order_by(Operation.id.desc())) == newest["id"]


def test_record_url_fills_the_template_from_the_connection() -> None:
    """``Connector.record_url`` is the one way a link is built: the connection's spec (with
    its overrides), its account and its text settings fill the template."""
    from crmsync.connectors.base import AppNames, ConnectorContext
    from crmsync.providers.hubspot.connector import HubSpotConnector

    def link(template: str, settings: dict[str, object]) -> str | None:
        spec = HubSpotConnector.spec.with_overrides({"record_url": template})
        ctx = ConnectorContext(
            spec=spec,
            http=httpx.AsyncClient(),
            app=AppNames("Acme", "acme"),
            account_id="42",
            settings=settings,
        )
        return HubSpotConnector(ctx).record_url("c-1")

    assert link("{instance_url}/r/{account_id}/{crm_id}", {"instance_url": "https://o.test"}) == (
        "https://o.test/r/42/c-1"
    )
    assert link("{instance_url}/r/{crm_id}", {}) is None  # the connection lacks the value
    assert link("javascript:{crm_id}", {}) is None  # only web addresses are links
    assert link("", {}) is None


def test_sync_to_crm_reaches_a_person_no_trigger_pushed_yet(w: World) -> None:
    """With the unlock trigger off, an unlocked person has a page and the button pushes them."""
    w.connect("org1")
    r = w.api.patch("/api/v1/orgs/org1/connection", json={"push_on_unlock": False})
    assert r.status_code == 200, r.text
    w.person("p1")
    w.unlock("org1", "p1", "u-admin")
    w.drain()
    assert w.records_by_person() == {}
    admin, token = signed_in(w, "admin@acme.test")
    page = admin.get("/settings/people/p1")
    assert page.status_code == 200 and "Not in HubSpot yet" in page.text
    assert "Sync to CRM</button>" in page.text
    admin.post("/settings/people/p1/sync", data={"csrf_token": token})
    w.drain()
    assert len(w.records_by_person()["p1"]) == 1
