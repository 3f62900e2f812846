"""Every request the connector sends and every response the emulator gives, against
HighLevel's official OpenAPI files."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crmsync.providers.highlevel.spec import API_VERSION
from tests.providers.highlevel import openapi_check
from tests.providers.highlevel.openapi_check import RecordingTransport, problems, spec_dir
from tests.support.world import World, world

API_HOST = "services.leadconnectorhq.com"


@pytest.fixture
def recorded(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[World, RecordingTransport]]:
    spec_dir()  # fail early, and loudly, when the spec files are missing
    with world(sqlite_url, tmp_path, "highlevel") as w:
        recorder = RecordingTransport(w.router)
        w.rt.transport = recorder
        w.org("org1", {"u-admin": "admin@acme.test", "u-member": "member@acme.test"})
        w.crm_admin_id = w.harness.add_user("admin@acme.test", "Ann", "Admin")
        yield w, recorder


def _api_traffic(recorder: RecordingTransport) -> list[httpx.Request]:
    return [e.request for e in recorder.exchanges if e.request.url.host == API_HOST]


def test_connector_traffic_and_emulator_answers_match_the_official_spec(
    recorded: tuple[World, RecordingTransport],
) -> None:
    w, recorder = recorded
    w.person("p0")
    w.unlock("org1", "p0", "u-admin")
    w.connect("org1")  # token exchange, location, custom fields, then a backfill
    w.harness.create_by_hand({"first_name": "Hand", "email": "dup@example.test"})
    for pid, user in (("p1", "u-admin"), ("p2", "u-member"), ("p3", "u-admin")):
        emails = ["dup@example.test"] if pid == "p3" else [f"{pid}@example.com"]
        w.person(pid, emails=emails, phones=["+1 512 555 0100"] if pid == "p1" else [])
        w.unlock("org1", pid, user)
    w.drain()
    w.harness.expire_access_tokens()  # a refresh through the token endpoint
    w.person("p1", title="CTO", city="Austin", zip="78701")
    w.drain()
    assert [op["status"] for op in w.operations(person_id="p3")] == ["skipped"]
    enabled = w.api.patch("/api/v1/orgs/org1/connection", json={"conversations_enabled": True})
    assert enabled.status_code == 200, enabled.text
    talk = {
        "id": "c1",
        "person_id": "p1",
        "channel": "call",
        "direction": "outbound",
        "subject": "Intro",
        "body": "Talked pricing.",
        "occurred_at": "2026-12-04T10:00:00Z",
    }
    for body in ("Talked pricing.", "Talked pricing and seats."):  # a note, then its update
        posted = w.api.post("/api/v1/orgs/org1/conversations", json={**talk, "body": body})
        assert posted.status_code == 202, posted.text
        w.drain()

    exchanges = [e for e in recorder.exchanges if e.request.url.host == API_HOST]
    endpoints = {f"{e.request.method} {e.request.url.path.split('/')[1]}" for e in exchanges}
    assert {"POST oauth", "GET locations", "POST locations", "GET users"} <= endpoints
    assert {"POST contacts", "PUT contacts"} <= endpoints
    notes = [e for e in exchanges if "/notes" in e.request.url.path]
    assert {e.request.method for e in notes} == {"POST", "PUT"}
    assert {e.response.status_code for e in exchanges} >= {200, 201, 400, 401}
    found = [problem for exchange in exchanges for problem in problems(exchange)]
    assert found == []


def test_every_api_request_sends_the_version_header(
    recorded: tuple[World, RecordingTransport],
) -> None:
    w, recorder = recorded
    w.connect("org1")
    w.person("p1")
    w.unlock("org1", "p1", "u-admin")
    w.drain()
    api = [r for r in _api_traffic(recorder) if r.url.path != "/oauth/token"]
    assert len(api) >= 5
    assert {r.headers.get("Version") for r in api} == {API_VERSION}


def test_emulator_answers_for_endpoints_beyond_the_connector_match_the_spec(
    recorded: tuple[World, RecordingTransport],
) -> None:
    w, recorder = recorded
    w.connect("org1")
    w.person("p1", emails=["grace@example.com"])
    w.unlock("org1", "p1", "u-admin")
    w.drain()
    token = w.connection()
    location = w.harness.location_id
    crm_id = w.harness.records()[0].crm_id
    field_id = w.harness.emulator.store.custom_fields(location, "contact")[0].id
    bearer = w.rt.vault.open(token.token_ciphertext or b"")["access_token"]
    headers = {"Authorization": f"Bearer {bearer}", "Version": API_VERSION}
    base = f"https://{API_HOST}"

    async def calls() -> None:
        async with httpx.AsyncClient(transport=recorder, base_url=base, headers=headers) as c:
            await c.get(f"/contacts/{crm_id}")
            await c.get(
                "/contacts/search/duplicate",
                params={"locationId": location, "email": "grace@example.com"},
            )
            await c.post(
                "/contacts/upsert",
                json={"locationId": location, "email": "grace@example.com", "lastName": "Hopper"},
            )
            await c.post("/contacts/", json={"locationId": location, "email": "not-an-email"})
            await c.get("/users/", params={"locationId": location})
            await c.get(f"/contacts/{crm_id}", headers={"Authorization": "Bearer nope"})
            await c.get(f"/locations/{location}/customFields/{field_id}")
            await c.get(f"/users/{w.crm_admin_id}")
            await c.delete(f"/contacts/{crm_id}")

    before = len(recorder.exchanges)
    asyncio.run(calls())
    direct = recorder.exchanges[before:]
    assert [e.response.status_code for e in direct] == [200, 200, 200, 422, 200, 401, 200, 200, 200]
    assert [p for e in direct for p in problems(e)] == []


def test_missing_spec_files_fail_rather_than_skip(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(openapi_check, "SPEC_DIR", tmp_path / "absent")
    with pytest.raises(pytest.fail.Exception, match="OpenAPI files are missing"):
        openapi_check.spec_dir()


def test_spec_files_ship_with_the_repository() -> None:
    """A fresh clone passes on its own: nothing is read from beside the repository."""
    repo = Path(__file__).resolve().parents[3]
    spec = openapi_check.spec_dir()
    assert repo in spec.parents
    referenced = spec.parent / "common" / "common-schemas.json"
    assert referenced.is_file() and (spec.parent / "LICENSE").is_file()
