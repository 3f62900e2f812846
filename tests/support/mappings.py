"""Helpers for the mappings tests: the current set as a PUT body, custom HubSpot properties
created as a HubSpot admin would (the emulator's own property API, HubSpot's names)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crmsync.db.tables import CrmFieldCatalogue, FieldMapping
from crmsync.providers.hubspot.emulator.harness import HubSpotHarness
from tests.support.world import World

MAPPINGS = "/api/v1/orgs/org1/connection/mappings"
FIELDS = "/api/v1/orgs/org1/fields"


def current(w: World) -> list[dict[str, Any]]:
    """The contact mapping's rows as a PUT body's ``fields``."""
    r = w.api.get(MAPPINGS)
    assert r.status_code == 200, r.text
    (contact,) = r.json()["objects"]
    return [
        {"app_field": f["app_field"], "crm_field": f["crm_field"], "canonical": f["canonical"]}
        for f in contact["fields"]
    ]


def row(fields: list[dict[str, Any]], app_field: str) -> dict[str, Any]:
    (found,) = [f for f in fields if f["app_field"] == app_field]
    return found


def put(w: World, fields: list[dict[str, Any]], **extra: Any) -> Any:
    return w.api.put(
        MAPPINGS, json={"objects": [{"local_object": "contact", "fields": fields}], **extra}
    )


def stored(w: World) -> list[tuple[Any, ...]]:
    """Every field mapping and cached catalogue as stored: equal before and after means a
    refused save changed nothing."""
    with w.rt.db.session() as session:
        maps = session.scalars(select(FieldMapping).order_by(FieldMapping.id))
        catalogues = session.scalars(select(CrmFieldCatalogue))
        return [
            *(
                (m.id, m.app_field, m.crm_field, m.source_of_truth, m.value_kind, m.identity)
                for m in maps
            ),
            *((c.connection_id, c.crm_object, len(c.fields)) for c in catalogues),
        ]


def hubspot_property(
    w: World, name: str, kind: str, field_type: str, options: tuple[str, ...] = ()
) -> None:
    """A custom contact property, as POST /crm/v3/properties/contacts creates it."""
    hubspot(w).emulator.store.create_property(
        {
            "name": name,
            "label": name.replace("_", " ").title(),
            "type": kind,
            "fieldType": field_type,
            "groupName": "contactinformation",
            "options": [{"label": o, "value": o, "displayOrder": i} for i, o in enumerate(options)],
        }
    )


def hubspot(w: World) -> HubSpotHarness:
    assert isinstance(w.harness, HubSpotHarness)
    return w.harness


def declare(w: World, *fields: dict[str, Any], **extra: Any) -> Any:
    return w.api.put(FIELDS, json={"fields": list(fields), **extra})
