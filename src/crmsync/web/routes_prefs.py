"""Sync preferences beyond the interval: import and export modes, push triggers (score
threshold, push on unlock) and the export of conversations. Each form goes through the
services (``connections.update_options``, ``triggers.set_push_options``,
``conversations.set_enabled``); refused input says why and changes nothing."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from crmsync.api.deps import RuntimeDep
from crmsync.domain.commands import PushOptions
from crmsync.domain.modes import ExportMode, ImportMode
from crmsync.errors import CrmSyncError
from crmsync.services import connections, conversations, triggers
from crmsync.web.auth import AdminUser, CsrfChecked
from crmsync.web.routes_integrations import PAGE, Checkbox, _back
from crmsync.web.views import sentence

router = APIRouter(prefix=PAGE, include_in_schema=False)
Choice = Annotated[str, Form(max_length=40)]
Threshold = Annotated[str, Form(max_length=30)]  # checked by the route, with a message
MAX_THRESHOLD = 1e12
"""A score threshold beyond this is a typing mistake, not a score."""

IMPORT_MODES = {
    ImportMode.MATCH_EXISTING: "Match existing",
    ImportMode.UPDATE_EXISTING: "Update existing",
    ImportMode.CREATE_NEW: "Create new",
}
EXPORT_MODES = {
    ExportMode.ALL: "Every contact (default)",
    ExportMode.MATCH_EXISTING_IMPORT_NEW: "Match existing and import new",
    ExportMode.UPDATE_EXISTING_IMPORT_NEW: "Update existing and import new",
}


def _on(value: str) -> bool:
    return value in ("on", "true", "1")


@router.post("/modes", dependencies=[CsrfChecked])
def modes(
    request: Request,
    rt: RuntimeDep,
    user: AdminUser,
    import_mode: Choice = "",
    export_mode: Choice = "",
) -> Response:
    """Which CRM records reach the app, and what a push writes (``domain.modes``)."""
    if import_mode not in {m.value for m in ImportMode}:
        choices = ", ".join(IMPORT_MODES.values())
        return _back(request, "error", f"Choose an import mode: {choices}. Nothing was changed.")
    if export_mode not in {m.value for m in ExportMode}:
        choices = ", ".join(EXPORT_MODES.values())
        return _back(request, "error", f"Choose an export mode: {choices}. Nothing was changed.")
    imports, exports = ImportMode(import_mode), ExportMode(export_mode)
    try:
        with rt.db.session() as session:
            connections.update_options(session, user.org_id, None, imports, exports)
    except CrmSyncError as exc:
        return _back(request, "error", str(exc))
    said = f"Import mode: {IMPORT_MODES[imports]}. Export mode: {EXPORT_MODES[exports]}."
    return _back(request, "success", f"{said} They apply from the next sync.")


def _threshold(text: str) -> float | None:
    """Empty: the score trigger is off. Raises ValueError for anything but a finite number."""
    text = text.strip()
    if not text:
        return None
    value = float(text) if text.isascii() else math.nan
    if not math.isfinite(value) or abs(value) > MAX_THRESHOLD:
        raise ValueError(text)
    return value


@router.post("/push-triggers", dependencies=[CsrfChecked])
def push_triggers(
    request: Request,
    rt: RuntimeDep,
    user: AdminUser,
    push_score_threshold: Threshold = "",
    push_on_unlock: Checkbox = "",
) -> Response:
    """ "Push when score ≥" (empty: off) and "Push on unlock"."""
    try:
        threshold = _threshold(push_score_threshold)
    except ValueError:
        return _back(
            request,
            "error",
            "The score threshold must be a number (for example 50), or empty to switch the "
            "score trigger off. Nothing was changed.",
        )
    on_unlock = _on(push_on_unlock)
    options = PushOptions(
        on_unlock=on_unlock, score_threshold=threshold, score_threshold_given=True
    )
    try:
        with rt.db.session() as session:
            conn = connections.require_connection(session, user.org_id)
            triggers.set_push_options(session, conn, options)
    except CrmSyncError as exc:
        return _back(request, "error", str(exc))
    score = f"a score of {threshold:g} or more" if threshold is not None else "no score"
    unlock = "an unlock pushes the contact" if on_unlock else "an unlock does not push"
    return _back(request, "success", f"Push triggers saved: {score} pushes a contact; {unlock}.")


@router.post("/conversations", dependencies=[CsrfChecked])
def conversations_switch(
    request: Request, rt: RuntimeDep, user: AdminUser, conversations_enabled: Checkbox = ""
) -> Response:
    on = _on(conversations_enabled)
    try:
        with rt.db.session() as session:
            conversations.set_enabled(rt, session, user.org_id, on)
    except CrmSyncError as exc:
        return _back(request, "error", sentence(str(exc)) + " Nothing was changed.")
    return _back(request, "success", f"Exporting conversations is {'on' if on else 'off'}.")
