"""Tooling API ``CustomField`` create: how crmsync adds its Lead fields when the org allows
it instead of installing the managed package.

Body: ``{"FullName": "Lead.Acme_Person_ID__c", "Metadata": {"label", "type", "length",
"externalId", "unique"}}`` → 201 ``{"id": "00N...", "success": true, "errors": [], ...}``.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from crmsync.emulation import EmulatedRoute
from crmsync.providers.salesforce.emulator.common import DATA, EmulatorDep, json_object
from crmsync.providers.salesforce.emulator.errors import SalesforceError
from crmsync.providers.salesforce.emulator.ids import KEY_PREFIXES
from crmsync.providers.salesforce.emulator.schema import custom_field

router = APIRouter(route_class=EmulatedRoute, tags=["tooling"])
_FULL_NAME = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\.([A-Za-z](?:[A-Za-z0-9]|_(?!_))*)__c$")
TYPES = ("Text", "Url", "Email", "Phone", "Checkbox", "Date", "DateTime", "Number", "LongTextArea")


def _integrity(message: str) -> SalesforceError:
    return SalesforceError(400, "FIELD_INTEGRITY_EXCEPTION", message)


@router.post(f"{DATA}/tooling/sobjects/CustomField", status_code=201)
async def create_custom_field(request: Request, emulator: EmulatorDep) -> JSONResponse:
    body = await json_object(request)
    full_name = str(body.get("FullName") or "")
    metadata = body.get("Metadata")
    match = _FULL_NAME.match(full_name)
    if match is None:
        raise _integrity(f"FullName: '{full_name}' is not a valid Object.Field__c name")
    if not isinstance(metadata, dict):
        raise SalesforceError(400, "JSON_PARSER_ERROR", "Metadata must be an object")
    kind = str(metadata.get("type") or "")
    if kind not in TYPES:
        raise _integrity(f"Type: bad value for restricted picklist field: {kind}")
    if kind == "Text" and not 1 <= int(metadata.get("length") or 0) <= 255:
        raise _integrity("Length: value outside of valid range on numeric field")
    store = emulator.store
    with store.lock:
        try:
            obj = store.sobject(match.group(1))
        except SalesforceError:
            raise _integrity(f"FullName: entity '{match.group(1)}' was not found") from None
        if obj.field(f"{match.group(2)}__c") is not None:
            raise SalesforceError(
                400,
                "DUPLICATE_DEVELOPER_NAME",
                f"There is already a field named {match.group(2)} on {obj.name}.",
            )
        store.add_field(obj.name, custom_field(f"{obj.name}.{match.group(2)}__c", metadata))
    field_id = store.ids.new(KEY_PREFIXES["CustomField"])
    return JSONResponse(
        {"id": field_id, "success": True, "errors": [], "warnings": [], "infos": []},
        status_code=201,
    )
