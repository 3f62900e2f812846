"""Preview and test, for every CRM: a preview makes no write to either side (zero write calls
counted by the emulator, no row of crmsync's changed), and says what the real run then does."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from crmsync.db.tables import Base
from crmsync.domain.records import Capability
from tests.conformance.views import crm_record
from tests.support.world import World

PREVIEW = "/api/v1/orgs/org1/connection/preview"


def row_counts(w: World) -> dict[str, int]:
    with w.rt.db.session() as session:
        return {
            table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


def ask(w: World, **body: Any) -> dict[str, Any]:
    r = w.api.post(PREVIEW, json=body)
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def test_an_export_preview_writes_nothing_and_agrees_with_the_run(linked: World) -> None:
    linked.person("p1", first_name="Grace", last_name="Hopper", title="Commodore", company="Navy")
    writes, rows = linked.harness.write_calls(), row_counts(linked)
    answer = ask(linked, direction="export", person_id="p1")
    assert linked.harness.write_calls() == writes, "zero write calls at the emulator"
    assert row_counts(linked) == rows, "zero rows changed"
    assert answer["status"] == "updated", answer
    sent = {row["app_field"] for row in answer["fields"] if row["outcome"] == "sent"}
    assert sent == {"title"}
    assert crm_record(linked, "p1").values["title"] == "Admiral"
    linked.drain()
    assert linked.operations()[0]["status"] == answer["status"], "the run did as previewed"
    assert crm_record(linked, "p1").values["title"] == "Commodore"


def test_an_import_preview_writes_nothing_and_agrees_with_the_run(linked: World) -> None:
    if Capability.READ not in linked.rt.provider(linked.provider).connector.capabilities:
        pytest.skip(f"{linked.provider} does not declare read")
    record = crm_record(linked, "p1")
    linked.harness.manual_edit(record.crm_id, "title", "Pirate")
    writes, rows = linked.harness.write_calls(), row_counts(linked)
    answer = ask(linked, direction="import", crm_id=record.crm_id)
    assert linked.harness.write_calls() == writes, "zero write calls at the emulator"
    assert row_counts(linked) == rows, "zero rows changed"
    assert (answer["status"], answer["person_id"]) == ("unchanged", "p1"), answer
    (title,) = [row for row in answer["fields"] if row["app_field"] == "title"]
    assert (title["value"], title["outcome"]) == ("Pirate", "written_back")
    linked.sync_back()
    assert crm_record(linked, "p1").values["title"] == "Admiral", "the run put it back"
