"""The suite's oracle shares no code with what it checks: with a mapping that swaps two
fields, the conformance suite goes red for every CRM.

The mutant is planted in the provider's mapping module itself, where the connector reads it:
an emulator harness that took its field names from there too would be fooled and the suite
would stay green.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest

from crmsync.connectors.base import AppNames
from crmsync.connectors.spec import FieldSpec
from crmsync.providers.close import mapping as close_mapping
from crmsync.providers.highlevel import mapping as highlevel_mapping
from crmsync.providers.hubspot import mapping as hubspot_mapping
from crmsync.providers.salesforce import mapping as salesforce_mapping
from tests.conformance.test_connector_conformance import (
    test_live_unlock_lands_with_values_and_matching_owner as lands_with_values,
)
from tests.support.world import world

MAPPINGS: dict[str, ModuleType] = {
    "close": close_mapping,
    "highlevel": highlevel_mapping,
    "hubspot": hubspot_mapping,
    "salesforce": salesforce_mapping,
}


def swapped(fields: list[FieldSpec], one: str, other: str) -> list[FieldSpec]:
    """The same mapping with the CRM fields of two app fields exchanged."""
    crm = {f.app_field: f.crm_field for f in fields}
    exchange = {one: crm[other], other: crm[one]}
    return [replace(f, crm_field=exchange.get(f.app_field, f.crm_field)) for f in fields]


def test_the_mutant_swaps_what_it_says() -> None:
    fields = hubspot_mapping.default_fields(AppNames("Acme", "acme"))
    mutant = {f.app_field: f.crm_field for f in swapped(fields, "first_name", "title")}
    assert (mutant["first_name"], mutant["title"]) == ("jobtitle", "firstname")


def test_a_mapping_that_swaps_two_fields_turns_the_suite_red(
    provider: str, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = MAPPINGS[provider]
    real = module.default_fields
    monkeypatch.setattr(
        module, "default_fields", lambda app: swapped(real(app), "first_name", "title")
    )
    with world(sqlite_url, tmp_path, provider) as team:
        team.org("org1", {"u-admin": "admin@acme.test", "u-member": "member@acme.test"})
        team.crm_admin_id = team.harness.add_user("admin@acme.test", "Ann", "Admin")
        with pytest.raises(AssertionError, match=r"Grace|Admiral"):
            lands_with_values(team)
