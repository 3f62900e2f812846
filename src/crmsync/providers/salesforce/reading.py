"""Salesforce's read half: records by id (a converted lead's Contact by its own id), changes
by ``SystemModstamp``, and the object's field catalogue from its describe.

Changes come from one ``queryAll`` SOQL, ascending by ``SystemModstamp`` then ``Id``, 2,000
rows a call: it reads live rows and the recycle bin alike, so edits, deletes (``IsDeleted``),
merges (a deleted loser's ``MasterRecordId``), undeletes (back with a new stamp) and lead
conversions (``ConvertedContactId``) come in one order under one cursor. ``getDeleted`` was not
chosen for deletes: its windows are whole minutes (a second cursor), and it does not say which
deletions were merges (a third call). It answers only what ``queryAll`` cannot: whether the
delete log still reaches back to the last read (``earliestDateAvailable``, 15 days); when it
does not, deletions may have been purged unseen and the page asks for a full reconciliation.
So a read costs two calls: one query page and one small ``getDeleted``.

The cursor is Salesforce's own: ``<SystemModstamp>|<Id>|<latestDateCovered>``, where to read
from and up to when the delete log was last found whole. Stamps are whole seconds, so many rows
share one: after a full page the next read starts just after the last row in (stamp, Id) order,
never looping on a crowded second; a page that caught up re-reads from its last second
(``overlap_seconds`` earlier if asked), for rows committed late within it. The engine dedupes
what is read twice by its shadows.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from crmsync.domain.records import (
    Change,
    ChangeKind,
    ChangePage,
    FieldDescription,
    FieldKind,
    RemoteRecord,
)
from crmsync.providers.salesforce.client import SalesforceClient, soql_string
from crmsync.providers.salesforce.mapping import CONTACT_FIELDS

IDS_PER_QUERY = 200
"""Keeps each SOQL statement far below Salesforce's 100,000-character limit."""
CHANGES_PER_READ = 2_000
"""One query page: Salesforce's largest batch."""
MODIFIED = "SystemModstamp"
ORIGIN = "LastModifiedById"
STAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"
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
    """``2026-12-02T00:58:01.000+0000`` (as Salesforce writes it) → ``2026-12-02T00:58:01Z``,
    a SOQL literal (Salesforce keeps whole seconds, so nothing is lost)."""
    return stamp[:19] + "Z"


def _moment(stamp: str) -> datetime:
    return datetime.strptime(stamp, STAMP_FORMAT)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + ".000+0000"


Position = tuple[str, str]
"""(SystemModstamp, Id) to read after; an empty Id reads the whole second again."""


def encode_cursor(position: Position, checked: str = "") -> str:
    return f"{position[0]}|{position[1]}|{checked}"


def decode_cursor(cursor: str) -> tuple[Position, str]:
    """The position and ``checked``, the ``latestDateCovered`` up to which the delete log was
    last found whole ("" after a full read: no gap known); a bare stamp has neither."""
    stamp, _, rest = cursor.partition("|")
    last_id, _, checked = rest.partition("|")
    return (stamp, last_id), checked


def _columns(sobject: str, fields: Sequence[str], tracking: bool) -> str:
    wanted = ["Id", MODIFIED, *fields]
    if tracking:
        wanted[2:2] = [ORIGIN, "IsDeleted", "MasterRecordId"]
        if sobject == "Lead":
            wanted[5:5] = ["IsConverted", "ConvertedContactId"]
    return ", ".join(dict.fromkeys(wanted))


def remote_record(row: dict[str, Any], fields: Sequence[str]) -> RemoteRecord:
    return RemoteRecord(
        crm_id=str(row["Id"]),
        fields={name: row.get(name) for name in fields},
        modified_at=row.get(MODIFIED),
        archived=bool(row.get("IsDeleted")),
    )


def change_of(row: dict[str, Any], fields: Sequence[str]) -> Change:
    """A deleted row is a merge when it names its master; a converted lead is merged into
    the Contact it became (the person lives on there, as after a merge)."""
    record = remote_record(row, fields)
    origin = str(row[ORIGIN]) if row.get(ORIGIN) else None
    kind, into = ChangeKind.UPSERTED, None
    if row.get("IsDeleted"):
        into = row.get("MasterRecordId")
        kind = ChangeKind.MERGED if into else ChangeKind.DELETED
    elif row.get("IsConverted") and row.get("ConvertedContactId"):
        kind, into = ChangeKind.MERGED, row["ConvertedContactId"]
    return Change(
        kind,
        record.crm_id,
        record.modified_at or "",
        record=record,
        origin=origin,
        merged_into=str(into) if into else None,
    )


async def read(
    client: SalesforceClient, sobject: str, ids: Sequence[str], fields: Sequence[str]
) -> list[RemoteRecord]:
    found: list[RemoteRecord] = []
    for start in range(0, len(ids), IDS_PER_QUERY):
        quoted = ", ".join(soql_string(i) for i in ids[start : start + IDS_PER_QUERY])
        soql = f"SELECT {_columns(sobject, fields, False)} FROM {sobject} WHERE Id IN ({quoted})"
        found += [remote_record(row, fields) for row in await client.query(soql)]
    return found


async def read_contacts(
    client: SalesforceClient,
    ids: Sequence[str],
    fields: Sequence[str],
    contact_fields: Collection[str],
) -> list[RemoteRecord]:
    """Contacts that converted leads became, read under the Lead field names asked for; a
    field Contact lacks (``Company``) is left out, not reported empty."""
    renamed = {
        name: target
        for name in fields
        if (target := CONTACT_FIELDS.get(name, name if name.endswith("__c") else ""))
        and target in contact_fields
    }
    found: list[RemoteRecord] = []
    for start in range(0, len(ids), IDS_PER_QUERY):
        quoted = ", ".join(soql_string(i) for i in ids[start : start + IDS_PER_QUERY])
        columns = ", ".join(dict.fromkeys(["Id", MODIFIED, *renamed.values()]))
        rows = await client.query(f"SELECT {columns} FROM Contact WHERE Id IN ({quoted})")
        found += [
            RemoteRecord(
                crm_id=str(row["Id"]),
                fields={name: row.get(target) for name, target in renamed.items()},
                modified_at=row.get(MODIFIED),
            )
            for row in rows
        ]
    return found


async def delete_log_covered(client: SalesforceClient, sobject: str, since: str) -> str | None:
    """``latestDateCovered`` (Salesforce's own now, to the minute) when the delete log still
    reaches back to ``since``, None when a record deleted after it may have been purged
    unseen (or ``since`` is past the 30 days ``getDeleted`` looks back). Unconfirmed: that
    Salesforce caps an ``end`` in the future at now, as the emulator does."""
    moment = _moment(since)
    start = moment.replace(second=0, microsecond=0)
    window = await client.deleted(
        sobject, start.isoformat(), (start + timedelta(days=30)).isoformat()
    )
    if window is None or _moment(str(window["earliestDateAvailable"])) > moment:
        return None
    return str(window["latestDateCovered"])


def _where(position: Position | None) -> str:
    if position is None:
        return ""
    at, last_id = soql_datetime(position[0]), position[1]
    if not last_id:
        return f" WHERE {MODIFIED} >= {at}"
    return f" WHERE {MODIFIED} > {at} OR ({MODIFIED} = {at} AND Id > {soql_string(last_id)})"


def next_position(
    position: Position | None, rows: list[dict[str, Any]], full: bool, overlap_seconds: int
) -> Position | None:
    """After a full page: just past its last row. After a caught-up page: its last second
    (less the overlap), never behind the position it was read from."""
    if not rows:
        return position
    last_stamp, last_id = str(rows[-1][MODIFIED]), str(rows[-1]["Id"])
    if full:
        return last_stamp, last_id
    edge = _stamp(_moment(last_stamp) - timedelta(seconds=overlap_seconds))
    if position is None or (_moment(edge), "") > (_moment(position[0]), position[1]):
        return edge, ""
    return position


async def read_changes(
    client: SalesforceClient,
    sobject: str,
    cursor: str | None,
    fields: Sequence[str],
    overlap_seconds: int = 0,
) -> ChangePage:
    """One page of changes. A cursor whose delete log was checked before and is no longer
    whole asks for a full reconciliation; one from a full read (nothing checked yet) only
    starts the checks, so a quiet org's old cursor cannot ask for one at every read."""
    position, checked = decode_cursor(cursor) if cursor else (None, "")
    if position is not None:
        covered = await delete_log_covered(client, sobject, checked or position[0])
        if covered is None and checked:
            return ChangePage([], cursor=None, full_sync_needed=True)
        checked = covered or ""
    soql = (
        f"SELECT {_columns(sobject, fields, True)} FROM {sobject}{_where(position)} "
        f"ORDER BY {MODIFIED} ASC, Id ASC LIMIT {CHANGES_PER_READ}"
    )
    rows = await client.query(soql, include_deleted=True)
    full = len(rows) == CHANGES_PER_READ
    after = next_position(position, rows, full, overlap_seconds)
    return ChangePage(
        [change_of(row, fields) for row in rows],
        cursor=encode_cursor(after, checked) if after is not None else None,
        more=full,
    )


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
