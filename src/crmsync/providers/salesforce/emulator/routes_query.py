"""``GET /query?q=SOQL`` and its ``nextRecordsUrl`` pages (``/query/01g...-2000``), and
``GET /queryAll?q=SOQL``, which also reads the recycle bin (deleted and merged records, with
``IsDeleted`` true), paged under ``/queryAll/``.

Pages hold 2,000 records unless ``Sforce-Query-Options: batchSize=N`` (200 to 2,000) asks
for fewer; the rows of a query are fixed when it runs, as with a real query locator.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from crmsync.emulation import EmulatedRoute
from crmsync.providers.salesforce.emulator import soql
from crmsync.providers.salesforce.emulator.common import DATA, EmulatorDep
from crmsync.providers.salesforce.emulator.errors import SalesforceError
from crmsync.providers.salesforce.emulator.ids import KEY_PREFIXES
from crmsync.providers.salesforce.emulator.state import SalesforceEmulator

router = APIRouter(route_class=EmulatedRoute, tags=["query"])


def _page_size(request: Request, default: int) -> int:
    options = request.headers.get("sforce-query-options", "")
    for part in options.split(","):
        name, _, value = part.strip().partition("=")
        if name == "batchSize" and value.isdigit():
            return max(200, min(2000, int(value)))
    return default


def _page(
    emulator: SalesforceEmulator,
    path: str,
    cursor: str,
    rows: list[dict[str, Any]],
    offset: int,
    size: int,
) -> JSONResponse:
    page = rows[offset : offset + size]
    body: dict[str, Any] = {"totalSize": len(rows), "done": offset + size >= len(rows)}
    if not body["done"]:
        body["nextRecordsUrl"] = f"{path}/{cursor}-{offset + size}"
        emulator.cursors[cursor] = (rows, size)
    else:
        emulator.cursors.pop(cursor, None)
    body["records"] = page
    return JSONResponse(body)


def _run(
    version: str, request: Request, emulator: EmulatorDep, q: str | None, include_deleted: bool
) -> JSONResponse:
    if not q:
        raise SalesforceError(400, "MALFORMED_QUERY", "A query string has to be specified")
    parsed = soql.parse(q)
    store = emulator.store
    if include_deleted:
        emulator.purge_deleted()
    with store.lock:
        try:
            obj = store.sobject(parsed.sobject)
        except SalesforceError:
            raise soql.query_error(
                parsed.text,
                parsed.sobject_pos,
                f"sObject type '{parsed.sobject}' is not supported. If you are attempting to use "
                "a custom object, be sure to append the '__c' after the entity name.",
                "INVALID_TYPE",
            ) from None
        rows = list(store.rows[obj.name].values())
        if include_deleted:
            rows += store.recycled[obj.name].values()
        total, records = soql.execute(parsed, obj, store.objects, rows, store.locate, version)
        if parsed.count:
            return JSONResponse({"totalSize": total, "done": True, "records": []})
    cursor = store.ids.new(KEY_PREFIXES["QueryLocator"])
    path = f"/services/data/{version}/{'queryAll' if include_deleted else 'query'}"
    size = _page_size(request, emulator.config.query_page_size)
    return _page(emulator, path, cursor, records, 0, size)


@router.get(f"{DATA}/query")
@router.get(f"{DATA}/query/")
def query(
    version: str, request: Request, emulator: EmulatorDep, q: str | None = None
) -> JSONResponse:
    return _run(version, request, emulator, q, include_deleted=False)


@router.get(f"{DATA}/queryAll")
@router.get(f"{DATA}/queryAll/")
def query_all(
    version: str, request: Request, emulator: EmulatorDep, q: str | None = None
) -> JSONResponse:
    """Live records and those in the recycle bin alike."""
    return _run(version, request, emulator, q, include_deleted=True)


def _more(version: str, endpoint: str, locator: str, emulator: SalesforceEmulator) -> JSONResponse:
    cursor, _, offset = locator.rpartition("-")
    found = emulator.cursors.get(cursor)
    if found is None or not offset.isdigit():
        raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    rows, size = found
    return _page(emulator, f"/services/data/{version}/{endpoint}", cursor, rows, int(offset), size)


@router.get(f"{DATA}/query/{{locator}}")
def query_more(version: str, locator: str, emulator: EmulatorDep) -> JSONResponse:
    return _more(version, "query", locator, emulator)


@router.get(f"{DATA}/queryAll/{{locator}}")
def query_all_more(version: str, locator: str, emulator: EmulatorDep) -> JSONResponse:
    return _more(version, "queryAll", locator, emulator)
