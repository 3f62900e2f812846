"""Pieces the Close routes share: the emulator and the authenticated caller as dependencies."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated

from fastapi import Depends, Request

from crmsync.providers.close.emulator.errors import CloseError, invalid
from crmsync.providers.close.emulator.eventlog import Actor
from crmsync.providers.close.emulator.policy import Caller
from crmsync.providers.close.emulator.state import CloseEmulator

MAX_PAGE = 200


def get_emulator(request: Request) -> CloseEmulator:
    emulator = request.app.state.emulator
    if not isinstance(emulator, CloseEmulator):
        raise RuntimeError("app.state.emulator is not a CloseEmulator")
    return emulator


def get_caller(
    request: Request, emulator: Annotated[CloseEmulator, Depends(get_emulator)]
) -> Caller:
    """Set by the policy when it admitted the call; authenticated again if a test skipped it."""
    caller = getattr(request.state, "caller", None) or emulator.policy.authenticate(request)
    if not isinstance(caller, Caller):
        raise CloseError(401, {"error": "The access token or API key is missing or invalid."})
    return caller


def split_fields(value: str | None) -> list[str] | None:
    """``?_fields=id,name`` → ``["id", "name"]``."""
    if not value:
        return None
    return [name.strip() for name in value.split(",") if name.strip()]


def refuse_other_parameters(request: Request, allowed: Collection[str]) -> None:
    """A filter the emulator does not evaluate is refused with Close's 400, never ignored:
    ignoring it would answer with objects the caller asked not to get."""
    unknown = sorted(set(request.query_params) - set(allowed))
    if unknown:
        message = "Not a filter the emulator evaluates on this endpoint."
        raise invalid(field_errors={name: message for name in unknown})


def user_id(emulator: CloseEmulator, caller: Caller) -> str:
    user = emulator.store.user_by_email(caller.user_email)
    return user.id if user else emulator.store.admin.id


def actor(emulator: CloseEmulator, caller: Caller) -> Actor:
    """Who events name: the user, and the API key's id when the call used a key."""
    key_id = emulator.config.api_key_id if caller.key.startswith("key:") else None
    return Actor(user_id(emulator, caller), key_id)


EmulatorDep = Annotated[CloseEmulator, Depends(get_emulator)]
CallerDep = Annotated[Caller, Depends(get_caller)]
