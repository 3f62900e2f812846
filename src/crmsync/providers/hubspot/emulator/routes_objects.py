"""Contacts one at a time: create, read, update, archive, list, and search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from crmsync.emulation import EmulatedRoute
from crmsync.providers.hubspot.emulator.common import (
    CONTACT_OBJECT_TYPES,
    EmulatorDep,
    split_names,
)
from crmsync.providers.hubspot.emulator.errors import validation_error
from crmsync.providers.hubspot.emulator.search import SearchRequest, search

MAX_LIST_LIMIT = 100

PropertiesQuery = Annotated[list[str] | None, Query()]
HistoryQuery = Annotated[list[str] | None, Query(alias="propertiesWithHistory")]
IdPropertyQuery = Annotated[str | None, Query(alias="idProperty")]


class ObjectInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    properties: dict[str, Any] = Field(default_factory=dict)


class MergeInput(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    primaryObjectId: str
    objectIdToMerge: str


def _written(properties: dict[str, Any]) -> list[str]:
    return list(properties)


def build_objects_router(object_type: str) -> APIRouter:
    """The contact routes under ``/crm/v3/objects/{object_type}`` (``contacts`` or ``0-1``)."""
    base = f"/crm/v3/objects/{object_type}"
    router = APIRouter(prefix=base, route_class=EmulatedRoute, tags=["contacts"])

    @router.get("")
    def list_contacts(
        emulator: EmulatorDep,
        limit: int = 10,
        after: str | None = None,
        properties: PropertiesQuery = None,
        history: HistoryQuery = None,
        archived: bool = False,
    ) -> JSONResponse:
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise validation_error(f"limit must be between 1 and {MAX_LIST_LIMIT}")
        page, next_after = emulator.store.page(limit=limit, after=after, archived=archived)
        names, with_history = split_names(properties), split_names(history)
        body: dict[str, Any] = {"results": [c.as_json(names, with_history) for c in page]}
        if next_after is not None:
            body["paging"] = {
                "next": {"after": next_after, "link": f"{base}?after={next_after}&limit={limit}"}
            }
        return JSONResponse(body)

    @router.post("", status_code=201)
    def create_contact(body: ObjectInput, emulator: EmulatorDep) -> JSONResponse:
        contact = emulator.store.create(body.properties)
        return JSONResponse(contact.as_json(_written(body.properties)), status_code=201)

    @router.post("/search")
    def search_contacts(body: SearchRequest, emulator: EmulatorDep) -> JSONResponse:
        """Over the search index, which may trail writes (``search_lag_seconds``)."""
        definitions = emulator.store.definitions()
        return JSONResponse(emulator.store.search(lambda found: search(body, found, definitions)))

    @router.post("/merge")
    def merge_contacts(body: MergeInput, emulator: EmulatorDep) -> JSONResponse:
        """``primaryObjectId`` survives; ``objectIdToMerge`` then reads as it."""
        survivor = emulator.store.merge(body.primaryObjectId, body.objectIdToMerge)
        return JSONResponse(survivor.as_json())

    @router.get("/{contact_id}")
    def get_contact(
        contact_id: str,
        emulator: EmulatorDep,
        properties: PropertiesQuery = None,
        history: HistoryQuery = None,
        id_property: IdPropertyQuery = None,
        archived: bool = False,
    ) -> JSONResponse:
        contact = emulator.store.get(contact_id, id_property, archived=archived)
        return JSONResponse(contact.as_json(split_names(properties), split_names(history)))

    @router.patch("/{contact_id}")
    def update_contact(
        contact_id: str,
        body: ObjectInput,
        emulator: EmulatorDep,
        id_property: IdPropertyQuery = None,
    ) -> JSONResponse:
        contact = emulator.store.update(contact_id, body.properties, id_property)
        return JSONResponse(contact.as_json(_written(body.properties)))

    @router.delete("/{contact_id}", status_code=204, response_model=None)
    def archive_contact(contact_id: str, emulator: EmulatorDep) -> Response:
        emulator.store.archive([contact_id])
        return Response(status_code=204)

    return router


ROUTERS = [build_objects_router(object_type) for object_type in CONTACT_OBJECT_TYPES]
