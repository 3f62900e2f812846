"""Close's pipelines, opportunity statuses and opportunities in the emulator, driven with
Close's official client (only its base URL changed); expected values read back with Close's own
field names through the harness's ``CloseObjects``. Each refused write is Close's 400 with
``field-errors`` and keeps nothing."""

from __future__ import annotations

from typing import Any

import pytest
from closeio_api import APIError, ValidationError

from crmsync.providers.close.emulator.harness_objects import CloseObjects
from tests.providers.close.test_close_sdk import Served, served

__all__ = ["served"]


@pytest.fixture
def objects(served: Served) -> CloseObjects:
    return CloseObjects(served.emulator)


def _lead(served: Served, name: str = "Ada") -> tuple[str, str]:
    lead = served.api.post("lead", data={"name": f"{name} Co", "contacts": [{"name": name}]})
    return str(lead["id"]), str(lead["contacts"][0]["id"])


def _refused(served: Served, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ValidationError) as caught:
        if method == "post":
            served.api.post(path, data=body)
        else:
            served.api.put(path, data=body)
    field_errors: dict[str, Any] = caught.value.field_errors
    return field_errors


def test_pipelines_list_their_statuses_and_the_status_list_names_the_pipeline(
    served: Served, objects: CloseObjects
) -> None:
    objects.add_pipeline("Renewals", [("Up for renewal", "active"), ("Renewed", "won")])
    pipelines = served.api.get("pipeline")["data"]
    assert [p["name"] for p in pipelines] == ["Sales", "Renewals"]
    assert [(s["label"], s["type"]) for s in pipelines[1]["statuses"]] == [
        ("Up for renewal", "active"),
        ("Renewed", "won"),
    ]
    statuses = served.api.get("status/opportunity")["data"]
    assert len(statuses) == 5
    by_pipeline = {p["id"]: p for p in pipelines}
    for status in statuses:
        assert status["type"] in ("active", "won", "lost")
        assert status["id"] in {s["id"] for s in by_pipeline[status["pipeline_id"]]["statuses"]}


def test_an_opportunity_is_made_read_updated_listed_and_deleted(
    served: Served, objects: CloseObjects
) -> None:
    lead_id, contact_id = _lead(served)
    field = served.api.post("custom_field/opportunity", data={"name": "Source", "type": "text"})
    won = objects.status_id("Won")
    made = served.api.post(
        "opportunity",
        data={
            "lead_id": lead_id,
            "contact_id": contact_id,
            "value": 250000,
            "value_period": "annual",
            "confidence": 60,
            "note": "Two seats",
            f"custom.{field['id']}": "webinar",
        },
    )
    assert (made["status_type"], made["status_label"]) == ("active", "Active")
    assert made["pipeline_id"] == objects.pipelines()[0]["id"]
    assert (made["value"], made["value_currency"], made["value_period"]) == (
        250000,
        "USD",
        "annual",
    )
    assert made[f"custom.{field['id']}"] == "webinar"
    changed = served.api.put(f"opportunity/{made['id']}", data={"status_id": won})
    assert (changed["status_type"], changed["status_id"]) == ("won", won)
    assert changed["date_won"] is not None
    assert changed["confidence"] == 60  # a PUT sets only what it sends
    assert served.api.get(f"opportunity/{made['id']}")["status_label"] == "Won"
    assert objects.opportunities(lead_id)[0]["status_type"] == "won"
    served.api.delete(f"opportunity/{made['id']}")
    assert objects.opportunities() == []
    with pytest.raises(APIError) as caught:
        served.api.get(f"opportunity/{made['id']}")
    assert caught.value.response.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"value": 100}, "lead_id"),
        ({"lead_id": "lead_missing"}, "lead_id"),
        ({"status_id": "stat_missing"}, "status_id"),
        ({"value": 12.5}, "value"),
        ({"value": "100"}, "value"),
        ({"value": -5}, "value"),
        ({"value_period": "weekly"}, "value_period"),
        ({"confidence": 101}, "confidence"),
        ({"confidence": -1}, "confidence"),
        ({"value_currency": "dollars"}, "value_currency"),
        ({"date_won": "next week"}, "date_won"),
        ({"user_id": "user_stranger"}, "user_id"),
        ({"contact_id": "cont_missing"}, "contact_id"),
        ({"custom.cf_missing": "x"}, "custom.cf_missing"),
        ({"stage": "Won"}, "stage"),
    ],
)
def test_what_close_refuses_on_create_is_refused_and_nothing_is_kept(
    served: Served, objects: CloseObjects, body: dict[str, Any], field: str
) -> None:
    lead_id, _ = _lead(served)
    sent = body if field == "lead_id" else {"lead_id": lead_id, **body}
    assert field in _refused(served, "post", "opportunity", sent)
    assert objects.opportunities() == []


def test_a_contact_of_another_lead_is_refused_and_an_update_keeps_the_old_values(
    served: Served, objects: CloseObjects
) -> None:
    lead_id, _ = _lead(served, "Ada")
    _, other_contact = _lead(served, "Grace")
    body = {"lead_id": lead_id, "contact_id": other_contact}
    assert "contact_id" in _refused(served, "post", "opportunity", body)
    made = objects.seed_opportunity({"lead_id": lead_id, "value": 500})
    refused = _refused(
        served, "put", f"opportunity/{made['id']}", {"value": 900, "confidence": 500}
    )
    assert "confidence" in refused
    assert objects.opportunities()[0]["value"] == 500  # the valid half was not kept either
    other_lead, _ = _lead(served, "Linus")
    moved = {"lead_id": other_lead}
    assert "lead_id" in _refused(served, "put", f"opportunity/{made['id']}", moved)


def test_the_list_filters_as_close_documents_and_refuses_what_it_does_not_evaluate(
    served: Served, objects: CloseObjects
) -> None:
    ada, _ = _lead(served, "Ada")
    grace, _ = _lead(served, "Grace")
    lost = objects.status_id("Lost")
    objects.seed_opportunity({"lead_id": ada, "value": 1000})
    objects.seed_opportunity({"lead_id": ada, "value": 2000, "status_id": lost})
    objects.seed_opportunity({"lead_id": grace, "value": 4000, "value_period": "monthly"})
    of_ada = served.api.get("opportunity", params={"lead_id": ada})
    assert of_ada["total_results"] == 2 and len(of_ada["data"]) == 2
    lost_ones = served.api.get("opportunity", params={"status_type": "lost"})["data"]
    assert [o["value"] for o in lost_ones] == [2000]
    assert served.api.get("opportunity", params={"status_id": lost})["total_results"] == 1
    everything = served.api.get("opportunity", params={"_order_by": "-value"})
    assert [o["value"] for o in everything["data"]] == [4000, 2000, 1000]
    assert everything["total_value_one_time"] == 3000
    assert everything["total_value_monthly"] == 4000
    assert everything["count_by_value_period"] == {"one_time": 2, "monthly": 1, "annual": 0}
    later = served.api.get("opportunity", params={"date_updated__gt": "2999-01-01T00:00:00Z"})
    assert later["data"] == []
    for params in (
        {"query": "note:x"},
        {"_group_by": "user_id"},
        {"status": "won"},
        {"status_type": "closed"},
        {"value_period": "weekly"},
        {"_order_by": "name"},
        {"date_updated__gt": "yesterday"},
    ):
        assert served.refused("opportunity", params).field_errors, params


def test_custom_values_are_checked_against_their_field_and_pipelines_refuse_filters(
    served: Served, objects: CloseObjects
) -> None:
    lead_id, _ = _lead(served)
    seats = served.api.post("custom_field/opportunity", data={"name": "Seats", "type": "number"})
    key = f"custom.{seats['id']}"
    assert key in _refused(served, "post", "opportunity", {"lead_id": lead_id, key: "many"})
    assert objects.opportunities() == []
    made = served.api.post("opportunity", data={"lead_id": lead_id, key: 12})
    assert made[key] == 12.0 and made["custom"] == {"Seats": 12.0}
    assert served.refused("pipeline", {"name": "Sales"}).field_errors
    assert served.refused("status/opportunity", {"type": "won"}).field_errors
