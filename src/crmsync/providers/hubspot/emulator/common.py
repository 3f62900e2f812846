"""Pieces the HubSpot routes share: the emulator dependency and response helpers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from crmsync.providers.hubspot.emulator.state import HubSpotEmulator

CONTACT_OBJECT_TYPES = ("contacts", "0-1")
"""Contacts answer to their name and to their object type id."""
MAX_BATCH = 100


def get_emulator(request: Request) -> HubSpotEmulator:
    emulator = request.app.state.emulator
    if not isinstance(emulator, HubSpotEmulator):
        raise RuntimeError("app.state.emulator is not a HubSpotEmulator")
    return emulator


EmulatorDep = Annotated[HubSpotEmulator, Depends(get_emulator)]


def split_names(values: Iterable[str] | None) -> list[str] | None:
    """``?properties=a,b&properties=c`` → ``["a", "b", "c"]``; None when not given."""
    if values is None:
        return None
    names = [name.strip() for value in values for name in value.split(",")]
    return [name for name in names if name] or None


def batch_response(
    emulator: HubSpotEmulator,
    *,
    started_at: str,
    results: Sequence[dict[str, Any]],
    errors: Sequence[dict[str, Any]] = (),
    ok_status: int = 200,
) -> JSONResponse:
    """HubSpot's batch envelope: ``ok_status`` when every input landed, 207 otherwise."""
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": list(results),
        "startedAt": started_at,
        "completedAt": emulator.store.now(),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = list(errors)
    return JSONResponse(body, status_code=207 if errors else ok_status)
