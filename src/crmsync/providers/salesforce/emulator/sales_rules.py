"""The rules Salesforce applies to sales records on every write, after each value was checked:

- Task and Event: a ``WhoId`` naming a lead leaves no room for a ``WhatId``;
- Event: ``StartDateTime`` is ``ActivityDateTime``; an event that is not all-day needs one, and
  an end (``EndDateTime``) or a length (``DurationInMinutes``): each is derived from the other,
  and an all-day event without either lasts one day;
- Opportunity: ``StageName`` sets ``IsClosed``/``IsWon`` and, unless the same write gives one,
  ``Probability`` from the stage's ``OpportunityStage``; a record type must be an active
  Opportunity record type whose business process lists the stage;
- a Lead's ``OwnerId`` may be a queue, one that takes leads;
- a ``QueueSobject`` names a queue (a ``Group`` of type ``Queue``), once per sObject.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from crmsync.providers.salesforce.emulator.errors import ItemError, RecordFailure
from crmsync.providers.salesforce.emulator.ids import KEY_PREFIXES
from crmsync.providers.salesforce.emulator.schema_sales import EVENT_DEFAULTS, QUEUE_OWNED

Row = dict[str, Any]
Rows = Mapping[str, Mapping[str, Row]]
"""Every sObject's live rows by id (the store's)."""
ACTIVITIES = ("Task", "Event")
LEAD_WITH_WHAT = (
    "Related To ID: id value of incorrect type: a lead cannot be related to a record "
    "(WhatId) as well"
)
"""Unconfirmed wording: Salesforce documents the rule, not its message."""
DURATION_MISMATCH = (
    "Event duration: DurationInMinutes and EndDateTime must add up to the same amount of time"
)
"""Unconfirmed wording and code: the documentation only says both may be given when they agree."""


def _fail(code: str, message: str, *fields: str) -> RecordFailure:
    return RecordFailure([ItemError(code, message, fields)])


def _missing(name: str) -> RecordFailure:
    return _fail("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{name}]", name)


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + ".000+0000"


def apply(
    sobject: str,
    values: dict[str, Any],
    row: Row | None,
    rows: Rows,
    process_stages: Mapping[str, tuple[str, ...]],
) -> dict[str, Any]:
    """The values to store, with what the rules derive; ``RecordFailure`` when one refuses."""
    if sobject in ACTIVITIES:
        _who_what(values, row)
    if sobject == "Event":
        values = _event(values, row)
    if sobject == "Opportunity":
        values = _opportunity(values, row, rows, process_stages)
    if sobject in QUEUE_OWNED and values.get("OwnerId"):
        _queue_owner(sobject, str(values["OwnerId"]), rows)
    if sobject == "Group" and row is None:
        name = re.sub(r"[^A-Za-z0-9]+", "_", str(values.get("Name") or "")).strip("_")
        values = {"Type": "Regular", "DeveloperName": name, **values}
    if sobject == "QueueSobject" and row is None:
        _queue_sobject(values, rows)
    return values


def _queue_sobject(values: dict[str, Any], rows: Rows) -> None:
    """A queue takes each sObject once, and only a queue takes any."""
    queue_id = str(values.get("QueueId"))
    group = rows.get("Group", {}).get(queue_id)
    if group is None or group.get("Type") != "Queue":
        # Unconfirmed wording: the type-mismatch message Salesforce gives for lookups
        raise _fail(
            "FIELD_INTEGRITY_EXCEPTION",
            f"Group ID: id value of incorrect type: {queue_id}",
            "QueueId",
        )
    for entry in rows.get("QueueSobject", {}).values():
        if entry.get("QueueId") == queue_id and entry.get("SobjectType") == values.get(
            "SobjectType"
        ):
            raise _fail(
                "DUPLICATE_VALUE",
                f"duplicate value found: SobjectType duplicates value on record with id: "
                f"{entry['Id']}",
                "SobjectType",
            )


def _who_what(values: dict[str, Any], row: Row | None) -> None:
    if "WhoId" not in values and "WhatId" not in values:
        return
    merged = {**(row or {}), **values}
    who, what = merged.get("WhoId"), merged.get("WhatId")
    if who and what and str(who).startswith(KEY_PREFIXES["Lead"]):
        raise _fail("FIELD_INTEGRITY_EXCEPTION", LEAD_WITH_WHAT, "WhoId", "WhatId")


def _event(values: dict[str, Any], row: Row | None) -> dict[str, Any]:
    creating = row is None
    out = {**EVENT_DEFAULTS, **values} if creating else dict(values)
    if "StartDateTime" in out and "ActivityDateTime" not in out:
        out["ActivityDateTime"] = out["StartDateTime"]
    elif "ActivityDateTime" in out and "StartDateTime" not in out:
        out["StartDateTime"] = out["ActivityDateTime"]
    merged = {**(row or {}), **out}
    all_day = bool(merged.get("IsAllDayEvent"))
    start_text = merged.get("StartDateTime")
    if start_text is None and all_day and merged.get("ActivityDate"):
        start_text = f"{merged['ActivityDate']}T00:00:00Z"
        out["StartDateTime"] = out["ActivityDateTime"] = _stamp(_moment(start_text))
    if start_text is None:
        raise _missing("ActivityDate" if all_day else "ActivityDateTime")
    start = _moment(str(start_text))
    for name in ("StartDateTime", "ActivityDateTime"):
        if name in out and out[name] is not None:
            out[name] = _stamp(start)
    duration = out.get("DurationInMinutes")
    end_text = out.get("EndDateTime")
    if duration is not None and end_text is not None:
        if _moment(str(end_text)) - start != timedelta(minutes=int(duration)):
            raise _fail(
                "FIELD_INTEGRITY_EXCEPTION", DURATION_MISMATCH, "DurationInMinutes", "EndDateTime"
            )
    elif duration is not None:
        end_text = _stamp(start + timedelta(minutes=int(duration)))
    elif end_text is not None:
        duration = int((_moment(str(end_text)) - start).total_seconds() // 60)
    elif not creating and row is not None and row.get("DurationInMinutes") is not None:
        duration = int(row["DurationInMinutes"])  # a moved start keeps the event's length
        end_text = _stamp(start + timedelta(minutes=duration))
    elif all_day:
        duration = 1440
        end_text = _stamp(start + timedelta(minutes=duration))
    else:
        raise _missing("DurationInMinutes")
    end = _moment(str(end_text))
    if end < start:
        raise _fail(
            "FIELD_INTEGRITY_EXCEPTION",
            "End Date Time: End Date Time cannot be earlier than Start Date Time",
            "EndDateTime",
        )
    if not all_day:
        out["ActivityDate"] = start.date().isoformat()
    out["DurationInMinutes"] = int(duration)
    out["EndDateTime"] = _stamp(end)
    return out


def stage_rows(rows: Rows) -> dict[str, Row]:
    """The org's active opportunity stages by ``ApiName``."""
    return {
        str(stage["ApiName"]): stage
        for stage in rows.get("OpportunityStage", {}).values()
        if stage.get("IsActive")
    }


def _bad_stage(stage: object) -> RecordFailure:
    return _fail(
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        f"Stage: bad value for restricted picklist field: {stage}",
        "StageName",
    )


def _opportunity(
    values: dict[str, Any],
    row: Row | None,
    rows: Rows,
    process_stages: Mapping[str, tuple[str, ...]],
) -> dict[str, Any]:
    out = dict(values)
    merged = {**(row or {}), **out}
    stage_name = merged.get("StageName")
    if "StageName" in out and stage_name is not None:
        stage = stage_rows(rows).get(str(stage_name))
        if stage is None:
            raise _bad_stage(stage_name)
        out["IsClosed"] = bool(stage["IsClosed"])
        out["IsWon"] = bool(stage["IsWon"])
        if "Probability" not in values:
            out["Probability"] = stage["DefaultProbability"]
    if ("StageName" in out or "RecordTypeId" in out) and merged.get("RecordTypeId"):
        record_type_id = str(merged["RecordTypeId"])
        record_type = rows.get("RecordType", {}).get(record_type_id)
        if (
            record_type is None
            or record_type.get("SobjectType") != "Opportunity"
            or not record_type.get("IsActive")
        ):
            raise _fail(
                "INVALID_CROSS_REFERENCE_KEY",
                f"Record Type ID: this ID value isn't valid for the user: {record_type_id}",
                "RecordTypeId",
            )
        allowed = process_stages.get(str(record_type.get("BusinessProcessId") or ""))
        if allowed is not None and stage_name not in allowed:
            raise _bad_stage(stage_name)
    return out


def _queue_owner(sobject: str, owner_id: str, rows: Rows) -> None:
    if not owner_id.startswith(KEY_PREFIXES["Group"]):
        return
    group = rows.get("Group", {}).get(owner_id)
    takes = group is not None and group.get("Type") == "Queue"
    takes = takes and any(
        entry.get("QueueId") == owner_id and entry.get("SobjectType") == sobject
        for entry in rows.get("QueueSobject", {}).values()
    )
    if not takes:
        # Unconfirmed wording: the type-mismatch message Salesforce gives for other lookups
        raise _fail(
            "FIELD_INTEGRITY_EXCEPTION",
            f"Owner ID: id value of incorrect type: {owner_id}",
            "OwnerId",
        )
