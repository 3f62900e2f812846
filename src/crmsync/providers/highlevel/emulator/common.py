"""Dependencies the HighLevel routes share: the emulator and the token's location."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Depends, Request

from crmsync.providers.highlevel.emulator.errors import unprocessable
from crmsync.providers.highlevel.emulator.state import HighLevelEmulator


def get_emulator(request: Request) -> HighLevelEmulator:
    emulator = request.app.state.emulator
    if not isinstance(emulator, HighLevelEmulator):
        raise RuntimeError("app.state.emulator is not a HighLevelEmulator")
    return emulator


def token_location(request: Request) -> str:
    """The location the access token was issued for (set by the policy's ``admit``)."""
    return str(request.state.location_id)


def json_object(body: Annotated[Any, Body()] = None) -> dict[str, Any]:
    """The JSON body, which must be an object (checked here so the 422 is HighLevel's)."""
    if not isinstance(body, dict):
        raise unprocessable(["body must be a JSON object"])
    return body


EmulatorDep = Annotated[HighLevelEmulator, Depends(get_emulator)]
TokenLocation = Annotated[str, Depends(token_location)]
JsonBody = Annotated[dict[str, Any], Depends(json_object)]
