"""How the connector reads HighLevel's answers and builds its bodies (no HTTP)."""

from __future__ import annotations

import httpx

from crmsync.connectors.base import AppNames
from crmsync.domain.outcomes import Action, Resolution
from crmsync.errors import classify
from crmsync.providers.highlevel import mapping
from crmsync.providers.highlevel.client import parse_problem, rate_limit_wait
from crmsync.providers.highlevel.spec import CONTACT_NOT_FOUND, DUPLICATE_CONTACT, SPEC

APP = AppNames("Acme", "acme")


def _resolve(status: int, body: object, headers: dict[str, str] | None = None) -> Resolution:
    response = httpx.Response(status, json=body, headers=headers or {})
    return classify(parse_problem(response), SPEC.error_rules)


def test_duplicate_contact_is_skipped_naming_the_field_and_the_existing_contact() -> None:
    resolution = _resolve(
        400,
        {
            "statusCode": 400,
            "message": "This location does not allow duplicated contacts.",
            "meta": {"contactName": "Hand Made", "contactId": "abc123", "matchingField": "phone"},
        },
    )
    assert resolution.action is Action.SKIP
    assert resolution.code == DUPLICATE_CONTACT
    assert "same phone" in resolution.reason
    assert "Hand Made (contact abc123)" in resolution.reason
    assert DUPLICATE_CONTACT in SPEC.recommendations


def test_validation_messages_are_joined_and_fail_the_record() -> None:
    resolution = _resolve(
        422,
        {"statusCode": 422, "message": ["email must be an email", "x"], "error": "Unprocessable"},
    )
    assert resolution.action is Action.FAIL
    assert "email must be an email; x" in resolution.reason


def test_a_missing_contact_fails_with_its_own_code() -> None:
    resolution = _resolve(400, {"statusCode": 400, "message": "Contact not found"})
    assert (resolution.action, resolution.code) == (Action.FAIL, CONTACT_NOT_FOUND)


def test_401_refreshes_and_429_waits_as_the_rate_limit_headers_say() -> None:
    assert _resolve(401, {"statusCode": 401}).action is Action.REFRESH_TOKEN
    burst = {"X-RateLimit-Remaining": "0", "X-RateLimit-Interval-Milliseconds": "10000"}
    resolution = _resolve(429, {"statusCode": 429}, {**burst, "X-RateLimit-Daily-Remaining": "9"})
    assert resolution.action is Action.RATE_LIMITED
    assert resolution.retry_after is None  # a rolling window: back off briefly, then retry
    daily = httpx.Response(429, headers={"X-RateLimit-Daily-Remaining": "0"})
    assert rate_limit_wait(daily, now=86_400 * 20_000 + 3_600) == 82_800
    assert rate_limit_wait(httpx.Response(429, headers={"Retry-After": "3"})) == 3.0


def test_payload_puts_custom_fields_by_id_and_clears_with_null_or_empty() -> None:
    ids = {"contact.acme_person_id": "F1", "contact.acme_job_title": "F2"}
    payload, missing = mapping.to_payload(
        {
            "contact.acme_person_id": "p1",
            "contact.acme_job_title": None,
            "contact.acme_linkedin_url": "https://x",
            "firstName": "Ada",
            "lastName": None,
            "postalCode": None,
        },
        ids,
    )
    assert payload == {
        "firstName": "Ada",
        "lastName": None,
        "postalCode": "",
        "customFields": [{"id": "F1", "field_value": "p1"}, {"id": "F2", "field_value": ""}],
    }
    assert missing == ["contact.acme_linkedin_url"]


def test_default_mapping_covers_every_app_field_with_the_app_named_custom_fields() -> None:
    fields = {f.app_field: f for f in mapping.default_fields(APP)}
    assert fields["person_id"].crm_field == mapping.person_id_key(APP) == "contact.acme_person_id"
    assert fields["title"].crm_field == "contact.acme_job_title"
    assert fields["owner"].crm_field == "assignedTo"
    assert {a for a, f in fields.items() if f.crm_field is None} == {"emails", "phones"}
    assert set(mapping.custom_fields(APP).values()) == {
        "Acme Person ID",
        "Acme Profile URL",
        "Acme LinkedIn URL",
        "Acme Job Title",
    }
