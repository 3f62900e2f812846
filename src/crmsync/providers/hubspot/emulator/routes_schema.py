"""Contact properties and property groups (create, read, update, archive), and the portal's
owners."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse, Response

from crmsync.emulation import EmulatedRoute
from crmsync.providers.hubspot.emulator.common import CONTACT_OBJECT_TYPES, EmulatorDep
from crmsync.providers.hubspot.emulator.errors import HubSpotError, validation_error

MAX_OWNERS_LIMIT = 500
JsonObject = Annotated[dict[str, Any], Body()]


def _missing(what: str) -> HubSpotError:
    return HubSpotError(404, f"Unable to find {what}", "OBJECT_NOT_FOUND")


def build_properties_router(object_type: str) -> APIRouter:
    """``/crm/v3/properties/{object_type}`` with its ``groups``."""
    router = APIRouter(
        prefix=f"/crm/v3/properties/{object_type}", route_class=EmulatedRoute, tags=["properties"]
    )

    @router.get("")
    def list_properties(emulator: EmulatorDep, archived: bool = False) -> JSONResponse:
        with emulator.store.lock:
            source = emulator.store.archived_properties if archived else emulator.store.properties
            definitions = list(source.values())
        return JSONResponse({"results": [d.as_json() for d in definitions]})

    @router.post("", status_code=201)
    def create_property(body: JsonObject, emulator: EmulatorDep) -> JSONResponse:
        return JSONResponse(emulator.store.create_property(body).as_json(), status_code=201)

    @router.get("/groups")
    def list_groups(emulator: EmulatorDep) -> JSONResponse:
        with emulator.store.lock:
            groups = list(emulator.store.groups.values())
        return JSONResponse({"results": [g.as_json() for g in groups]})

    @router.post("/groups", status_code=201)
    def create_group(body: JsonObject, emulator: EmulatorDep) -> JSONResponse:
        return JSONResponse(emulator.store.create_group(body).as_json(), status_code=201)

    @router.get("/groups/{group_name}")
    def get_group(group_name: str, emulator: EmulatorDep) -> JSONResponse:
        group = emulator.store.groups.get(group_name)
        if group is None:
            raise _missing(f"property group {group_name}")
        return JSONResponse(group.as_json())

    @router.patch("/groups/{group_name}")
    def update_group(group_name: str, body: JsonObject, emulator: EmulatorDep) -> JSONResponse:
        return JSONResponse(emulator.store.update_group(group_name, body).as_json())

    @router.delete("/groups/{group_name}", status_code=204, response_model=None)
    def archive_group(group_name: str, emulator: EmulatorDep) -> Response:
        emulator.store.archive_group(group_name)
        return Response(status_code=204)

    @router.get("/{property_name}")
    def get_property(
        property_name: str, emulator: EmulatorDep, archived: bool = False
    ) -> JSONResponse:
        store = emulator.store
        definition = (store.archived_properties if archived else store.properties).get(
            property_name
        )
        if definition is None:
            raise _missing(f"property {property_name}")
        return JSONResponse(definition.as_json())

    @router.patch("/{property_name}")
    def update_property(
        property_name: str, body: JsonObject, emulator: EmulatorDep
    ) -> JSONResponse:
        return JSONResponse(emulator.store.update_property(property_name, body).as_json())

    @router.delete("/{property_name}", status_code=204, response_model=None)
    def archive_property(property_name: str, emulator: EmulatorDep) -> Response:
        emulator.store.archive_property(property_name)
        return Response(status_code=204)

    return router


owners_router = APIRouter(prefix="/crm/v3/owners", route_class=EmulatedRoute, tags=["owners"])


@owners_router.get("")
@owners_router.get("/")
def list_owners(
    emulator: EmulatorDep,
    email: str | None = None,
    limit: int = 100,
    after: str | None = None,
    archived: bool = False,
) -> JSONResponse:
    if not 1 <= limit <= MAX_OWNERS_LIMIT:
        raise validation_error(f"limit must be between 1 and {MAX_OWNERS_LIMIT}")
    owners = emulator.store.owner_list()
    start = int(after) if after and after.isdigit() else 0
    wanted = email.strip().lower() if email else None
    matching = [
        o
        for o in owners
        if o.archived == archived and int(o.id) > start and (wanted is None or o.email == wanted)
    ]
    page = matching[:limit]
    body: dict[str, Any] = {"results": [o.as_json() for o in page]}
    if len(matching) > limit:
        next_after = page[-1].id
        body["paging"] = {
            "next": {"after": next_after, "link": f"/crm/v3/owners/?after={next_after}"}
        }
    return JSONResponse(body)


@owners_router.get("/{owner_id}")
def get_owner(
    owner_id: str, emulator: EmulatorDep, idProperty: str = "id", archived: bool = False
) -> JSONResponse:
    for owner in emulator.store.owner_list():
        key = str(owner.user_id) if idProperty == "userId" else owner.id
        if key == owner_id and owner.archived == archived:
            return JSONResponse(owner.as_json())
    raise _missing(f"owner {owner_id}")


account_router = APIRouter(prefix="/account-info/v3", route_class=EmulatedRoute, tags=["account"])


@account_router.get("/details")
def account_details(emulator: EmulatorDep) -> JSONResponse:
    """HubSpot's account details: how an app learns its portal id without putting the token
    in a URL."""
    return JSONResponse(
        {
            "portalId": emulator.config.portal_id,
            "accountType": "STANDARD",
            "timeZone": "US/Eastern",
            "companyCurrency": "USD",
            "additionalCurrencies": [],
            "utcOffset": "-05:00",
            "utcOffsetMilliseconds": -18000000,
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": "na1",
        }
    )


ROUTERS = [build_properties_router(object_type) for object_type in CONTACT_OBJECT_TYPES]
