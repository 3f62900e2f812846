"""Data replication and limits: ``/sobjects/{sObject}/updated/`` and ``/deleted/``
(``?start=&end=``) and ``/limits/``.

As Salesforce documents: the seconds of ``start`` and ``end`` are dropped, ``start`` must come
before ``end`` and lie within the last 30 days (``INVALID_REPLICATION_DATE`` otherwise), updates
are found by ``SystemModstamp``, and more than 600,000 ids is ``EXCEEDED_ID_LIMIT``.
Deletions are kept for the configured retention (15 days) or until the bin is emptied;
``earliestDateAvailable`` is when the last physically deleted record had been deleted (the
org's start when none has been), and once one has been, a ``start`` before it is
``INVALID_REPLICATION_DATE``: the caller must resync.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from crmsync.emulation import EmulatedRoute
from crmsync.providers.salesforce.emulator import lifecycle
from crmsync.providers.salesforce.emulator.common import DATA, EmulatorDep
from crmsync.providers.salesforce.emulator.errors import SalesforceError
from crmsync.providers.salesforce.emulator.state import SalesforceEmulator
from crmsync.providers.salesforce.emulator.store import timestamp

REPLICATION_DAYS = 30
MAX_IDS = 600_000

router = APIRouter(route_class=EmulatedRoute, tags=["replication"])


def _replication_error(message: str) -> SalesforceError:
    return SalesforceError(400, "INVALID_REPLICATION_DATE", message)


def _minute(name: str, text: str | None) -> float:
    """A ``start``/``end`` parameter as epoch seconds, its seconds dropped."""
    if not text:
        raise SalesforceError(400, "MISSING_ARGUMENT", f"{name} not specified")
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "+").replace("Z", "+00:00"))
    except ValueError:
        raise SalesforceError(
            400, "INVALID_DATE_FORMAT", f"Invalid {name} dateTime: {text}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.replace(second=0, microsecond=0).timestamp()


def _window(
    emulator: SalesforceEmulator, start: str | None, end: str | None
) -> tuple[float, float]:
    """The timespan asked for, checked as Salesforce checks it; ``end`` capped at now."""
    low, high = _minute("start", start), _minute("end", end)
    now = emulator.config.clock()
    if low >= high:
        raise _replication_error("startDate must chronologically precede endDate")
    if low < now - REPLICATION_DAYS * 86_400:
        raise _replication_error(f"startDate cannot be more than {REPLICATION_DAYS} days ago")
    return low, min(high, now - now % 60)


def _too_many(found: int) -> None:
    if found > MAX_IDS:
        raise SalesforceError(
            400, "EXCEEDED_ID_LIMIT", f"record limit reached. cannot return more than {MAX_IDS}"
        )


def _moment(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


@router.get(f"{DATA}/sobjects/{{sobject}}/updated")
@router.get(f"{DATA}/sobjects/{{sobject}}/updated/")
def updated(
    sobject: str, emulator: EmulatorDep, start: str | None = None, end: str | None = None
) -> JSONResponse:
    """Ids whose ``SystemModstamp`` falls in [start, end)."""
    low, high = _window(emulator, start, end)
    store = emulator.store
    with store.lock:
        rows = store.rows[store.sobject(sobject).name].values()
        found = [row["Id"] for row in rows if low <= _moment(row["SystemModstamp"]) < high]
    _too_many(len(found))
    return JSONResponse({"ids": found, "latestDateCovered": timestamp(high)})


@router.get(f"{DATA}/sobjects/{{sobject}}/deleted")
@router.get(f"{DATA}/sobjects/{{sobject}}/deleted/")
def deleted(
    sobject: str, emulator: EmulatorDep, start: str | None = None, end: str | None = None
) -> JSONResponse:
    low, high = _window(emulator, start, end)
    emulator.purge_deleted()
    store = emulator.store
    with store.lock:
        name = store.sobject(sobject).name
        earliest = lifecycle.earliest_available(store, name, emulator.started_at)
        if name in store.purged and low < earliest:
            raise _replication_error(
                f"startDate is before the earliest date available: {timestamp(earliest)}"
            )
        log = store.deleted[name]
        found = [
            {"id": record_id, "deletedDate": timestamp(when)}
            for record_id, when in log
            if low <= when < high
        ]
    _too_many(len(found))
    return JSONResponse(
        {
            "deletedRecords": found,
            "earliestDateAvailable": timestamp(earliest),
            "latestDateCovered": timestamp(high),
        }
    )


def _limit(maximum: int, remaining: int) -> dict[str, int]:
    return {"Max": maximum, "Remaining": remaining}


@router.get(f"{DATA}/limits")
@router.get(f"{DATA}/limits/")
def limits(emulator: EmulatorDep) -> JSONResponse:
    """The org's limits: the daily API allocation counts real calls (this one included, as
    Salesforce counts it); the others are a Developer Edition org's, never consumed."""
    allocation = emulator.allocation
    used = allocation.used(emulator.org_id)
    body: dict[str, Any] = {
        "DailyApiRequests": _limit(allocation.max_requests, max(allocation.max_requests - used, 0)),
        "DailyAsyncApexExecutions": _limit(250_000, 250_000),
        "DailyBulkApiBatches": _limit(15_000, 15_000),
        "DailyBulkV2QueryFileStorageMB": _limit(976_562, 976_562),
        "DailyBulkV2QueryJobs": _limit(10_000, 10_000),
        "DataStorageMB": _limit(5, 5),
        "FileStorageMB": _limit(20, 20),
        "HourlyODataCallout": _limit(10_000, 10_000),
        "SingleEmail": _limit(15, 15),
    }
    return JSONResponse(body)
