"""``GET /query?q=SOQL`` and its ``nextRecordsUrl`` pages (``/query/01g...-2000``).

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
    version: str,
    cursor: str,
    rows: list[dict[str, Any]],
    offset: int,
    size: int,
) -> JSONResponse:
    page = rows[offset : offset + size]
    body: dict[str, Any] = {"totalSize": len(rows), "done": offset + size >= len(rows)}
    if not body["done"]:
        body["nextRecordsUrl"] = f"/services/data/{version}/query/{cursor}-{offset + size}"
        emulator.cursors[cursor] = (rows, size)
    else:
        emulator.cursors.pop(cursor, None)
    body["records"] = page
    return JSONResponse(body)


@router.get(f"{DATA}/query")
@router.get(f"{DATA}/query/")
def query(
    version: str, request: Request, emulator: EmulatorDep, q: str | None = None
) -> JSONResponse:
    if not q:
        raise SalesforceError(400, "MALFORMED_QUERY", "A query string has to be specified")
    parsed = soql.parse(q)
    store = emulator.store
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
        total, records = soql.execute(
            parsed, obj, store.objects, store.rows[obj.name].values(), store.locate, version
        )
        if parsed.count:
            return JSONResponse({"totalSize": total, "done": True, "records": []})
    cursor = store.ids.new(KEY_PREFIXES["QueryLocator"])
    return _page(
        emulator, version, cursor, records, 0, _page_size(request, emulator.config.query_page_size)
    )


@router.get(f"{DATA}/query/{{locator}}")
def query_more(version: str, locator: str, emulator: EmulatorDep) -> JSONResponse:
    cursor, _, offset = locator.rpartition("-")
    found = emulator.cursors.get(cursor)
    if found is None or not offset.isdigit():
        raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    rows, size = found
    return _page(emulator, version, cursor, rows, int(offset), size)
