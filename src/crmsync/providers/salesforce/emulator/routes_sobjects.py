"""``/services/data/vXX.X/sobjects`` and ``/composite/sobjects``: describe, create, read,
update, delete, upsert by external ID (one record, or collections of up to 200).

Single calls answer errors as a 400 array; collections answer 200 with one result per record,
in order. ``allOrNone: true`` rolls every record back when one fails.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from crmsync.emulation import EmulatedRoute
from crmsync.providers.salesforce.emulator.common import (
    DATA,
    EmulatorDep,
    UserDep,
    json_object,
    record_json,
    write_context,
)
from crmsync.providers.salesforce.emulator.errors import (
    ItemError,
    RecordFailure,
    SalesforceError,
    not_found,
)
from crmsync.providers.salesforce.emulator.state import SalesforceEmulator
from crmsync.providers.salesforce.emulator.store import MultipleMatches, Undo

MAX_COLLECTION = 200
ROLLED_BACK = ItemError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone "
    "header",
)

router = APIRouter(route_class=EmulatedRoute, tags=["sobjects"])


def _saved(row_id: str, created: bool | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": row_id, "success": True, "errors": []}
    if created is not None:
        body["created"] = created
    return body


def _failed(errors: list[ItemError], created: bool | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": False, "errors": [e.result_json() for e in errors]}
    if created is not None:
        body["created"] = created
    return body


def _multiple(version: str, sobject: str, found: list[str]) -> JSONResponse:
    return JSONResponse([f"/services/data/{version}/sobjects/{sobject}/{i}" for i in found], 300)


@router.get(f"{DATA}/sobjects")
def describe_global(version: str, emulator: EmulatorDep) -> JSONResponse:
    objects = emulator.store.objects.values()
    return JSONResponse(
        {
            "encoding": "UTF-8",
            "maxBatchSize": MAX_COLLECTION,
            "sobjects": [
                {"name": o.name, "label": o.label, "keyPrefix": o.key_prefix, "custom": False}
                for o in objects
            ],
        }
    )


@router.get(f"{DATA}/sobjects/{{sobject}}/describe")
@router.get(f"{DATA}/sobjects/{{sobject}}/describe/")
def describe(version: str, sobject: str, emulator: EmulatorDep) -> JSONResponse:
    with emulator.store.lock:
        return JSONResponse(emulator.store.sobject(sobject).describe(version))


@router.post(f"{DATA}/sobjects/{{sobject}}", status_code=201)
async def create(
    version: str, sobject: str, request: Request, emulator: EmulatorDep, user: UserDep
) -> JSONResponse:
    body = await json_object(request)
    row = emulator.store.create(sobject, body, write_context(request, emulator, user))
    return JSONResponse(_saved(row["Id"]), status_code=201)


@router.get(f"{DATA}/sobjects/{{sobject}}/{{record_id}}")
def get_record(
    version: str, sobject: str, record_id: str, emulator: EmulatorDep, fields: str | None = None
) -> JSONResponse:
    row = emulator.store.get(sobject, record_id)
    name = emulator.store.sobject(sobject).name
    wanted = [f.strip() for f in fields.split(",")] if fields else None
    return JSONResponse(record_json(version, name, row, wanted))


@router.patch(f"{DATA}/sobjects/{{sobject}}/{{record_id}}", status_code=204, response_model=None)
async def update(
    version: str,
    sobject: str,
    record_id: str,
    request: Request,
    emulator: EmulatorDep,
    user: UserDep,
) -> Response:
    body = await json_object(request)
    emulator.store.get(sobject, record_id)  # 404 before any value problem
    emulator.store.update(sobject, record_id, body, write_context(request, emulator, user))
    return Response(status_code=204)


@router.delete(f"{DATA}/sobjects/{{sobject}}/{{record_id}}", status_code=204, response_model=None)
def delete(
    version: str, sobject: str, record_id: str, emulator: EmulatorDep, user: UserDep
) -> Response:
    """Into the recycle bin: ``query`` no longer reads it, ``queryAll`` and ``getDeleted`` do."""
    emulator.store.delete(sobject, record_id, user)
    return Response(status_code=204)


@router.get(f"{DATA}/sobjects/{{sobject}}/{{field}}/{{value}}", response_model=None)
def get_by_external_id(
    version: str,
    sobject: str,
    field: str,
    value: str,
    emulator: EmulatorDep,
    fields: str | None = None,
) -> JSONResponse:
    """The record whose external ID is ``value``; 404 when none, 300 listing them when
    several share it."""
    store = emulator.store
    with store.lock:
        definition = store.external_id_field(sobject, field)
        name = store.sobject(sobject).name
        found = store.find(name, definition.name, value)
        if len(found) > 1:
            return _multiple(version, name, found)
        if not found:
            raise not_found()
        wanted = [f.strip() for f in fields.split(",")] if fields else None
        return JSONResponse(record_json(version, name, store.get(name, found[0]), wanted))


@router.patch(f"{DATA}/sobjects/{{sobject}}/{{field}}/{{value}}", response_model=None)
async def upsert_one(
    version: str,
    sobject: str,
    field: str,
    value: str,
    request: Request,
    emulator: EmulatorDep,
    user: UserDep,
) -> Response:
    """201 created, 200 updated, 300 when the external ID matches several records."""
    body = await json_object(request)
    definition = emulator.store.external_id_field(sobject, field)
    if any(k.lower() in ("id", definition.name.lower()) for k in body):
        raise SalesforceError(
            400,
            "INVALID_FIELD",
            f"The Id field and the external ID field {definition.name} should not be specified "
            "in the sobject data.",
        )
    context = write_context(request, emulator, user)
    try:
        row, created = emulator.store.upsert(sobject, definition.name, value, body, context)
    except MultipleMatches as exc:
        return _multiple(version, emulator.store.sobject(sobject).name, exc.ids)
    return JSONResponse(_saved(row["Id"], created), status_code=201 if created else 200)


async def _collection(request: Request) -> tuple[bool, list[dict[str, Any]]]:
    body = await json_object(request)
    records = body.get("records")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise SalesforceError(400, "JSON_PARSER_ERROR", "records must be a list of sObjects")
    if len(records) > MAX_COLLECTION:
        raise SalesforceError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_COLLECTION} records into this "
            "call",
        )
    for record in records:
        kind = (
            record.get("attributes", {}).get("type")
            if isinstance(record.get("attributes"), dict)
            else None
        )
        if not kind:
            raise SalesforceError(
                400,
                "INVALID_FIELD",
                "When using sObject Collections, the attributes map must contain a type",
            )
    return bool(body.get("allOrNone", False)), records


def _finish(
    emulator: SalesforceEmulator, all_or_none: bool, results: list[dict[str, Any]], undo: Undo
) -> JSONResponse:
    if all_or_none and not all(r["success"] for r in results):
        emulator.store.rollback(undo)
        results = [r if not r["success"] else _failed([ROLLED_BACK]) for r in results]
    return JSONResponse(results)


@router.patch(f"{DATA}/composite/sobjects/{{sobject}}/{{field}}")
async def upsert_collection(
    version: str, sobject: str, field: str, request: Request, emulator: EmulatorDep, user: UserDep
) -> JSONResponse:
    all_or_none, records = await _collection(request)
    store = emulator.store
    definition = store.external_id_field(sobject, field)
    name = store.sobject(sobject).name
    for record in records:
        if record["attributes"]["type"].lower() != name.lower():
            raise SalesforceError(
                400, "INVALID_FIELD", "Each record must be of the type given in the request URI"
            )
    keys = [str(r.get(definition.name) or "") for r in records]
    repeated = {k for k in keys if k and keys.count(k) > 1}
    context = write_context(request, emulator, user)
    results: list[dict[str, Any]] = []
    undo: Undo = []
    with store.lock:
        for key, record in zip(keys, records, strict=True):
            if key in repeated:
                error = ItemError("DUPLICATE_VALUE", f"Duplicate external id specified: {key}")
                results.append(_failed([error], created=False))
                continue
            body = {k: v for k, v in record.items() if k.lower() != definition.name.lower()}
            try:
                row, created = store.upsert(name, definition.name, key, body, context, undo)
            except RecordFailure as exc:
                results.append(_failed(exc.errors, created=False))
            except MultipleMatches as exc:
                message = (
                    f"{definition.name}: more than one record found for external id field: "
                    f"{exc.ids}"
                )
                results.append(
                    _failed([ItemError("DUPLICATE_EXTERNAL_ID", message)], created=False)
                )
            else:
                results.append(_saved(row["Id"], created))
        return _finish(emulator, all_or_none, results, undo)


@router.post(f"{DATA}/composite/sobjects")
async def create_collection(request: Request, emulator: EmulatorDep, user: UserDep) -> JSONResponse:
    all_or_none, records = await _collection(request)
    context = write_context(request, emulator, user)
    results: list[dict[str, Any]] = []
    undo: Undo = []
    with emulator.store.lock:
        for record in records:
            try:
                row = emulator.store.create(record["attributes"]["type"], record, context, undo)
            except RecordFailure as exc:
                results.append(_failed(exc.errors))
            else:
                results.append(_saved(row["Id"]))
        return _finish(emulator, all_or_none, results, undo)


@router.patch(f"{DATA}/composite/sobjects")
async def update_collection(request: Request, emulator: EmulatorDep, user: UserDep) -> JSONResponse:
    all_or_none, records = await _collection(request)
    context = write_context(request, emulator, user)
    results: list[dict[str, Any]] = []
    undo: Undo = []
    with emulator.store.lock:
        for record in records:
            record_id = str(record.get("id") or record.get("Id") or "")
            try:
                if not record_id:
                    raise RecordFailure(
                        [ItemError("MISSING_ARGUMENT", "Id not specified in an update call")]
                    )
                row = emulator.store.update(
                    record["attributes"]["type"], record_id, record, context, undo
                )
            except RecordFailure as exc:
                results.append(_failed(exc.errors))
            else:
                results.append(_saved(row["Id"]))
        return _finish(emulator, all_or_none, results, undo)
