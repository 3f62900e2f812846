"""Contacts in batches of up to 100: create, read, update, upsert, archive.

Create is all-or-nothing (400 or 409). Read, update and upsert answer 207 with per-item
``errors`` (each with ``context.ids`` naming the inputs) when some inputs failed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from crmsync.emulation import EmulatedRoute
from crmsync.providers.hubspot.emulator.common import (
    CONTACT_OBJECT_TYPES,
    MAX_BATCH,
    EmulatorDep,
    batch_response,
)
from crmsync.providers.hubspot.emulator.errors import HubSpotError, validation_error
from crmsync.providers.hubspot.emulator.records import StoredContact
from crmsync.providers.hubspot.emulator.store import ID_PROPERTY

MAX_HISTORY_BATCH = 50
"""A batch read asking for ``propertiesWithHistory`` takes at most 50 ids (HubSpot's 400 as
reported in PipedreamHQ/pipedream#8462)."""
NOT_FOUND_MESSAGE = (
    "Could not get some CONTACT objects, they may be deleted or not exist. "
    "Check that ids are valid."
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class CreateInput(_Model):
    properties: dict[str, Any] = Field(default_factory=dict)


class IdInput(_Model):
    id: str


class UpdateInput(_Model):
    id: str
    idProperty: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


class BatchCreate(_Model):
    inputs: list[CreateInput]


class BatchRead(_Model):
    inputs: list[IdInput]
    properties: list[str] = Field(default_factory=list)
    propertiesWithHistory: list[str] = Field(default_factory=list)
    idProperty: str | None = None


class BatchUpdate(_Model):
    inputs: list[UpdateInput]


class BatchArchive(_Model):
    inputs: list[IdInput]


def _check_size(inputs: Sequence[object]) -> None:
    if len(inputs) > MAX_BATCH:
        raise validation_error(
            f"Batch input limit exceeded: {len(inputs)} inputs given, at most {MAX_BATCH} allowed."
        )


def _check_duplicates(keys: Sequence[tuple[str, str]]) -> None:
    repeated = sorted({value for (_, value), count in Counter(keys).items() if count > 1})
    if repeated:
        raise validation_error(
            f"Duplicate IDs found in batch input: {repeated}. IDs must be unique"
        )


def _not_found_error(ids: Sequence[str]) -> dict[str, Any]:
    return HubSpotError(404, NOT_FOUND_MESSAGE, "OBJECT_NOT_FOUND").item({"ids": list(ids)})


def _key(id_value: str, id_property: str | None) -> tuple[str, str]:
    prop = id_property or ID_PROPERTY
    return prop, id_value.strip().lower() if prop == "email" else id_value


def _written(contact: StoredContact, names: Sequence[str]) -> dict[str, Any]:
    return contact.as_json(names)


def build_batch_router(object_type: str) -> APIRouter:
    """The batch routes under ``/crm/v3/objects/{object_type}/batch``."""
    router = APIRouter(
        prefix=f"/crm/v3/objects/{object_type}/batch", route_class=EmulatedRoute, tags=["batch"]
    )

    @router.post("/create", status_code=201)
    def batch_create(body: BatchCreate, emulator: EmulatorDep) -> JSONResponse:
        _check_size(body.inputs)
        started = emulator.store.now()
        contacts = emulator.store.create_many([item.properties for item in body.inputs])
        results = [
            _written(c, list(item.properties))
            for c, item in zip(contacts, body.inputs, strict=True)
        ]
        return batch_response(emulator, started_at=started, results=results, ok_status=201)

    @router.post("/read")
    def batch_read(body: BatchRead, emulator: EmulatorDep, archived: bool = False) -> JSONResponse:
        """An archived id is not found unless ``?archived=true`` (which reads only archived
        ones); a merged-away id answers its survivor, once however many ids lead to it."""
        _check_size(body.inputs)
        if body.propertiesWithHistory and len(body.inputs) > MAX_HISTORY_BATCH:
            raise validation_error(
                "The maximum number of inputs supported in a batch request for property "
                f"histories is {MAX_HISTORY_BATCH}. Please reduce the number of items and try "
                "again"
            )
        started = emulator.store.now()
        found: dict[str, StoredContact] = {}
        missing: list[str] = []
        for item in body.inputs:
            try:
                contact = emulator.store.get(item.id, body.idProperty, archived=archived)
            except HubSpotError as exc:
                if exc.category != "OBJECT_NOT_FOUND":
                    raise
                missing.append(item.id)
                continue
            found.setdefault(contact.id, contact)
        names = body.properties or None
        return batch_response(
            emulator,
            started_at=started,
            results=[c.as_json(names, body.propertiesWithHistory) for c in found.values()],
            errors=[_not_found_error(missing)] if missing else [],
        )

    @router.post("/update")
    def batch_update(body: BatchUpdate, emulator: EmulatorDep) -> JSONResponse:
        _check_size(body.inputs)
        _check_duplicates([_key(item.id, item.idProperty) for item in body.inputs])
        started = emulator.store.now()
        outcomes = emulator.store.update_many(
            [(item.id, item.idProperty, item.properties) for item in body.inputs]
        )
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        missing: list[str] = []
        for item, outcome in zip(body.inputs, outcomes, strict=True):
            if isinstance(outcome, StoredContact):
                results.append(_written(outcome, list(item.properties)))
            elif outcome.category == "OBJECT_NOT_FOUND":
                missing.append(item.id)
            else:
                errors.append(outcome.item({"ids": [item.id]}))
        if missing:
            errors.insert(0, _not_found_error(missing))
        return batch_response(emulator, started_at=started, results=results, errors=errors)

    @router.post("/upsert")
    def batch_upsert(body: BatchUpdate, emulator: EmulatorDep) -> JSONResponse:
        _check_size(body.inputs)
        unique = emulator.store.unique_properties()
        for item in body.inputs:
            if item.idProperty and item.idProperty not in unique:
                raise validation_error(
                    f"Property '{item.idProperty}' is not a unique property and cannot be used "
                    "as idProperty"
                )
        _check_duplicates([_key(item.id, item.idProperty) for item in body.inputs])
        started = emulator.store.now()
        outcomes = emulator.store.upsert_many(
            [(item.id, item.idProperty, item.properties) for item in body.inputs]
        )
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for item, outcome in zip(body.inputs, outcomes, strict=True):
            if isinstance(outcome, HubSpotError):
                errors.append(outcome.item({"ids": [item.id]}))
                continue
            contact, new = outcome
            names = [*item.properties, *([item.idProperty] if item.idProperty else [])]
            results.append({**_written(contact, names), "new": new})
        return batch_response(emulator, started_at=started, results=results, errors=errors)

    @router.post("/archive", status_code=204, response_model=None)
    def batch_archive(body: BatchArchive, emulator: EmulatorDep) -> Response:
        _check_size(body.inputs)
        emulator.store.archive([item.id for item in body.inputs])
        return Response(status_code=204)

    return router


ROUTERS = [build_batch_router(object_type) for object_type in CONTACT_OBJECT_TYPES]
