"""What stops syncing is said on every page, a setup retries what it held back, and every
text a user reads names the configured app."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from crmsync.branding import branded
from crmsync.db.tables import Connection, WorkItem
from crmsync.providers.emulators import name_requesting_app
from tests.support.world import World, world
from tests.web.test_web_server import signed_in
from tests.web.test_web_truth import _gave_up, _team


@pytest.fixture
def w(db_url: str, tmp_path: Path) -> Iterator[World]:
    with world(db_url, tmp_path, "hubspot", max_attempts=2) as instance:
        yield _team(instance)


def _needs_setup(w: World, message: str = "") -> None:
    with w.rt.db.session() as session:
        row = session.get_one(Connection, w.connection().id)
        row.status = "setup_required"
        row.settings = {
            **row.settings,
            "setup": {"missing": ["Acme Person ID"], "created": [], "message": message},
        }


def test_setup_required_is_a_banner_on_every_page(w: World) -> None:
    w.connect("org1")
    _needs_setup(w)
    admin, _ = signed_in(w, "admin@acme.test")
    for path in ("/settings/integrations", "/settings/logs"):
        page = admin.get(path).text
        banner = page.split('data-notice="setup"')[1].split("</div>\n</div>")[0]
        assert "HubSpot needs setting up." in banner and "Acme Person ID" in banner, path
        assert "Create the fields</button>" in banner, path
    member, _ = signed_in(w, "member@acme.test")
    banner = member.get("/settings/logs").text.split('data-notice="setup"')[1]
    assert "Ask an admin of org1 to finish the setup." in banner
    assert "Create the fields</button>" not in banner.split("</div>\n</div>")[0]


def test_creating_the_fields_retries_what_failed_for_want_of_them(w: World) -> None:
    _gave_up(w)  # p-lost failed (here: a server error stands in for the missing field)
    [failed] = w.operations(status="failed")
    _needs_setup(w)
    admin, token = signed_in(w, "admin@acme.test")
    r = admin.post(
        "/settings/integrations/setup", data={"csrf_token": token, "create_missing_fields": "on"}
    )
    assert r.status_code == 303
    assert w.status()["status"] == "connected"
    with w.rt.db.session() as session:
        [item] = session.scalars(select(WorkItem)).all()
        assert (item.local_id, item.operation_id) == ("p-lost", failed["id"])
    w.drain()
    newest = w.operations(person_id="p-lost")[0]
    assert newest["status"] == "inserted" and newest["retry_of"] == failed["id"]
    assert w.status()["counts"]["failed"] == 0


def test_texts_a_user_reads_name_the_app(w: World) -> None:
    assert branded("crmsync cannot sync until it is enabled.", "Acme") == (
        "Acme cannot sync until it is enabled."
    )
    kept = "see https://crmsync-demo.hubspot.test/ or admin@crmsync.test, crmsync.web"
    assert branded(kept, "Acme") == kept
    w.connect("org1")
    _needs_setup(w, "crmsync created the fields; grant your integration user access.")
    admin, _ = signed_in(w, "admin@acme.test")
    card = admin.get("/settings/integrations").text
    assert "Acme created the fields" in card and "crmsync created" not in card

    name_requesting_app(w.harness, w.settings.app_name)
    r = w.api.post("/api/v1/orgs/org1/connection/reconnect")
    assert r.status_code == 201, r.text

    async def consent_page() -> str:
        async with httpx.AsyncClient(transport=w.router, follow_redirects=True) as client:
            return (await client.get(r.json()["authorize_url"])).text

    page = asyncio.run(consent_page())
    assert "Connect Acme to HubSpot" in page
    assert not re.search(r"\bcrmsync\b(?![-.])", page.split("<form")[0])
