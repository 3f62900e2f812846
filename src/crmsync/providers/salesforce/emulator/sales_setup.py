"""Setup an admin does in the org's Setup pages, which the API only reads: the opportunity
stages, Opportunity record types with their business processes, and queues."""

from __future__ import annotations

import re

from crmsync.providers.salesforce.emulator import ids
from crmsync.providers.salesforce.emulator.ids import KEY_PREFIXES
from crmsync.providers.salesforce.emulator.schema_sales import QUEUE_OBJECTS, STAGE_TABLE
from crmsync.providers.salesforce.emulator.store import OrgStore

SETUP_OBJECTS = ("OpportunityStage", "RecordType", "BusinessProcess", "Group", "QueueSobject")
"""Kept when the org's data is reset: they are configuration, not records."""


def _developer_name(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_")


def seed_stages(store: OrgStore) -> None:
    """The standard stages, once (MasterLabel = ApiName, as in a new org)."""
    with store.lock:
        if store.rows["OpportunityStage"]:
            return
        for order, (label, closed, won, probability) in enumerate(STAGE_TABLE, start=1):
            stage = {
                "MasterLabel": label,
                "ApiName": label,
                "IsActive": True,
                "IsClosed": closed,
                "IsWon": won,
                "DefaultProbability": probability,
                "SortOrder": order,
                "ForecastCategoryName": ("Closed" if won else "Omitted") if closed else "Pipeline",
            }
            store.install(
                "OpportunityStage", store.ids.new(KEY_PREFIXES["OpportunityStage"]), stage
            )


def add_record_type(
    store: OrgStore, name: str, stages: tuple[str, ...], active: bool = True
) -> str:
    """An Opportunity record type whose sales process allows these stages; returns its id."""
    with store.lock:
        known = {str(s["ApiName"]) for s in store.rows["OpportunityStage"].values()}
        unknown = [s for s in stages if s not in known]
        if unknown or not stages:
            raise ValueError(f"a sales process needs known stages, not {unknown or stages}")
        process_id = store.ids.new(KEY_PREFIXES["BusinessProcess"])
        store.install(
            "BusinessProcess",
            process_id,
            {"Name": f"{name} Process", "TableEnumOrId": "Opportunity", "IsActive": True},
        )
        store.process_stages[process_id] = tuple(stages)
        record_type_id = store.ids.new(KEY_PREFIXES["RecordType"])
        store.install(
            "RecordType",
            record_type_id,
            {
                "Name": name,
                "DeveloperName": _developer_name(name),
                "SobjectType": "Opportunity",
                "IsActive": active,
                "BusinessProcessId": process_id,
            },
        )
        return record_type_id


def add_queue(
    store: OrgStore, name: str, sobjects: tuple[str, ...], email: str | None = None
) -> str:
    """A queue (``Group`` of type ``Queue``) taking records of these sObjects; returns its id."""
    refused = [s for s in sobjects if s not in QUEUE_OBJECTS]
    if refused:
        raise ValueError(f"a queue cannot take {refused}: only {QUEUE_OBJECTS}")
    with store.lock:
        queue_id = store.ids.new(KEY_PREFIXES["Group"])
        store.install(
            "Group",
            queue_id,
            {"Name": name, "DeveloperName": _developer_name(name), "Type": "Queue", "Email": email},
        )
        for sobject in sobjects:
            entry = {"QueueId": queue_id, "SobjectType": sobject}
            store.install("QueueSobject", store.ids.new(KEY_PREFIXES["QueueSobject"]), entry)
        return queue_id


def lead_queue(store: OrgStore, queue_id: str) -> str:
    """The 18-character id of a queue that takes leads (an assignment rule's target)."""
    full = ids.normalise(queue_id) or ""
    with store.lock:
        takes = any(
            entry["QueueId"] == full and entry["SobjectType"] == "Lead"
            for entry in store.rows["QueueSobject"].values()
        )
    if not takes:
        raise ValueError(f"{queue_id} is not a queue that takes leads")
    return full
