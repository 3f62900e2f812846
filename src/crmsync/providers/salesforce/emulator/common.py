"""Pieces the Salesforce routes share: the emulator, the running user, record JSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from crmsync.providers.salesforce.emulator.errors import SalesforceError
from crmsync.providers.salesforce.emulator.state import SalesforceEmulator
from crmsync.providers.salesforce.emulator.store import Row, WriteContext

DATA = "/services/data/{version}"


def get_emulator(request: Request) -> SalesforceEmulator:
    emulator = request.app.state.emulator
    if not isinstance(emulator, SalesforceEmulator):
        raise RuntimeError("app.state.emulator is not a SalesforceEmulator")
    return emulator


EmulatorDep = Annotated[SalesforceEmulator, Depends(get_emulator)]


def running_user(request: Request, emulator: EmulatorDep) -> str:
    """The user whose session made the call (the policy already checked the session)."""
    access = emulator.policy.session(request)
    return access.user if access is not None else emulator.admin_id


UserDep = Annotated[str, Depends(running_user)]


def allow_save(request: Request) -> bool:
    """``Sforce-Duplicate-Rule-Header: allowSave=true; ...`` lets alert-rule duplicates save."""
    header = request.headers.get("sforce-duplicate-rule-header", "")
    options = dict(part.strip().partition("=")[::2] for part in header.split(";") if "=" in part)
    return options.get("allowSave", "").strip().lower() == "true"


def auto_assign(request: Request) -> str:
    """``Sforce-Auto-Assign``: ``TRUE`` (also when absent: Salesforce's default) runs the
    active assignment rule on created and updated leads, ``FALSE`` none, a rule's id that rule
    on created leads."""
    value = request.headers.get("sforce-auto-assign", "TRUE").strip()
    return value.upper() if value.upper() in ("TRUE", "FALSE") else value


def write_context(request: Request, emulator: SalesforceEmulator, user: str) -> WriteContext:
    """An API write's context: its user and what its duplicate- and assignment-rule headers
    ask for."""
    return emulator.context(user, allow_save=allow_save(request), assign=auto_assign(request))


def record_json(
    version: str, sobject: str, row: Row, fields: list[str] | None = None
) -> dict[str, Any]:
    """A record as the REST API shows it: ``attributes`` first, then the fields."""
    shown = {name: row.get(name) for name in fields} if fields is not None else dict(row)
    return {
        "attributes": {
            "type": sobject,
            "url": f"/services/data/{version}/sobjects/{sobject}/{row['Id']}",
        },
        **shown,
    }


async def json_body(request: Request) -> Any:
    """The request's JSON, or Salesforce's 400 for a body it cannot parse."""
    try:
        return await request.json()
    except ValueError as exc:
        raise SalesforceError(400, "JSON_PARSER_ERROR", f"Unexpected character: {exc}") from exc


async def json_object(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise SalesforceError(
            400, "JSON_PARSER_ERROR", "Cannot deserialize instance of SObject from START_ARRAY"
        )
    return body
