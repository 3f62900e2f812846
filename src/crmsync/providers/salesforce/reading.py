"""Salesforce's read half: records by id and changes by ``SystemModstamp``, through SOQL, and
the object's field catalogue from its describe.

Changes are read ascending by ``SystemModstamp`` (which every change moves, system ones
included), from the cursor's second inclusive, up to 2,000 rows a call (one query page).
SOQL datetime literals carry whole seconds, so rows stamped within the cursor's second are
read again at the edge: the engine dedupes by the shadows it keeps. Deleted rows need
``queryAll`` or ``getDeleted`` and come with two-way sync.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crmsync.domain.records import (
    ChangePage,
    FieldDescription,
    FieldKind,
    RemoteRecord,
)
from crmsync.providers.salesforce.client import SalesforceClient, soql_string

IDS_PER_QUERY = 200
"""Keeps each SOQL statement far below Salesforce's 100,000-character limit."""
CHANGES_PER_READ = 2_000
MODIFIED = "SystemModstamp"
KINDS = {
    "string": FieldKind.STRING,
    "textarea": FieldKind.STRING,
    "email": FieldKind.STRING,
    "phone": FieldKind.STRING,
    "url": FieldKind.STRING,
    "id": FieldKind.STRING,
    "double": FieldKind.NUMBER,
    "int": FieldKind.NUMBER,
    "currency": FieldKind.NUMBER,
    "percent": FieldKind.NUMBER,
    "boolean": FieldKind.BOOLEAN,
    "date": FieldKind.DATE,
    "datetime": FieldKind.DATETIME,
    "picklist": FieldKind.PICKLIST,
    "multipicklist": FieldKind.MULTI_PICKLIST,
    "reference": FieldKind.REFERENCE,
}


def soql_datetime(stamp: str) -> str:
    """``2026-12-02T00:58:01.123+0000`` (as Salesforce writes it) → ``2026-12-02T00:58:01Z``,
    a SOQL literal (whole seconds, so a read from it starts at that second)."""
    return stamp[:19] + "Z"


def _columns(fields: Sequence[str]) -> str:
    return ", ".join(dict.fromkeys(["Id", MODIFIED, *fields]))


def remote_record(row: dict[str, Any], fields: Sequence[str]) -> RemoteRecord:
    return RemoteRecord(
        crm_id=str(row["Id"]),
        fields={name: row.get(name) for name in fields},
        modified_at=row.get(MODIFIED),
        archived=bool(row.get("IsDeleted")),
    )


async def read(
    client: SalesforceClient, sobject: str, ids: Sequence[str], fields: Sequence[str]
) -> list[RemoteRecord]:
    found: list[RemoteRecord] = []
    for start in range(0, len(ids), IDS_PER_QUERY):
        quoted = ", ".join(soql_string(i) for i in ids[start : start + IDS_PER_QUERY])
        soql = f"SELECT {_columns(fields)} FROM {sobject} WHERE Id IN ({quoted})"
        found += [remote_record(row, fields) for row in await client.query(soql)]
    return found


async def read_changes(
    client: SalesforceClient, sobject: str, cursor: str | None, fields: Sequence[str]
) -> ChangePage:
    where = f" WHERE {MODIFIED} >= {soql_datetime(cursor)}" if cursor else ""
    soql = (
        f"SELECT {_columns(fields)} FROM {sobject}{where} "
        f"ORDER BY {MODIFIED} ASC, Id ASC LIMIT {CHANGES_PER_READ}"
    )
    records = [remote_record(row, fields) for row in await client.query(soql)]
    return ChangePage.of_records(records, cursor, more=len(records) == CHANGES_PER_READ)


def describe(fields: list[dict[str, Any]]) -> list[FieldDescription]:
    return [
        FieldDescription(
            name=str(f["name"]),
            label=str(f.get("label") or f["name"]),
            kind=KINDS.get(str(f.get("type")), FieldKind.OTHER),
            custom=bool(f.get("custom")),
            read_only=not (f.get("createable") or f.get("updateable")),
            options=tuple(
                str(v["value"]) for v in f.get("picklistValues") or [] if v.get("active")
            ),
        )
        for f in fields
    ]
