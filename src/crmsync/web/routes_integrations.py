"""Settings → Integrations: connect through a popup, watch the sync, change options."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from crmsync.api.deps import RuntimeDep
from crmsync.browser import session_binding
from crmsync.domain.commands import PushOptions
from crmsync.errors import ConnectorError, CrmSyncError, NotFound
from crmsync.services import connections, triggers
from crmsync.services.operations import connection_status
from crmsync.services.people import unlocked_people
from crmsync.web.auth import (
    AdminUser,
    CsrfChecked,
    CurrentUser,
    flash,
    wants_json,
)
from crmsync.web.cards import live_status, provider_cards, provider_logo
from crmsync.web.views import render

PAGE = "/settings/integrations"
router = APIRouter(prefix=PAGE, include_in_schema=False)
Checkbox = Annotated[str, Form(max_length=10)]


def _back(request: Request, kind: str, text: str) -> Response:
    """Fetch calls get JSON; forms get the page again with a message."""
    if wants_json(request):
        return JSONResponse(
            {"ok": kind != "error", "detail": text}, 200 if kind != "error" else 409
        )
    flash(request, kind, text)
    return RedirectResponse(PAGE, status_code=303)


def _authorize(request: Request, url: str) -> Response:
    if wants_json(request):
        return JSONResponse({"authorize_url": url})
    return RedirectResponse(url, status_code=303)  # without JavaScript: the whole tab goes


@router.get("")
def integrations(request: Request, rt: RuntimeDep, user: CurrentUser) -> Response:
    with rt.db.session() as session:
        cards = provider_cards(rt, session, user.org_id)
        unlocked = unlocked_people(session, user.org_id)
    active = next((c.connection for c in cards if c.connection is not None), None)
    redraw = live_status(active)["redraw"] if active is not None else "none"
    context = {"cards": cards, "unlocked": unlocked, "page": "integrations", "redraw": redraw}
    return render(request, rt, "integrations.html", context, user=user)


@router.get("/status")
def status(rt: RuntimeDep, user: CurrentUser) -> dict[str, Any]:
    """Polled by the page while a connection is shown: live counts and progress."""
    with rt.db.session() as session:
        conn = connections.active_connection(session, user.org_id)
        if conn is None:
            return {"status": "none", "redraw": "none"}
        return live_status(connection_status(rt, session, conn))


@router.post("/{provider}/connect", dependencies=[CsrfChecked])
def connect(
    provider: str,
    request: Request,
    rt: RuntimeDep,
    user: AdminUser,
    skip_backfill: Checkbox = "",
) -> Response:
    if provider not in rt.providers:
        return _back(request, "error", f"Unknown CRM {provider!r}.")
    try:
        with rt.db.session() as session:
            url, _state = connections.start_authorization(
                rt,
                session,
                user.org_id,
                provider,
                skip_backfill=bool(skip_backfill),
                session_binding=session_binding(request),
            )
    except CrmSyncError as exc:
        return _back(request, "error", str(exc))
    return _authorize(request, url)


@router.post("/reconnect", dependencies=[CsrfChecked])
def reconnect(request: Request, rt: RuntimeDep, user: AdminUser) -> Response:
    try:
        with rt.db.session() as session:
            url, _state = connections.start_reconnect(
                rt, session, user.org_id, session_binding=session_binding(request)
            )
    except CrmSyncError as exc:
        return _back(request, "error", str(exc))
    return _authorize(request, url)


@router.post("/preserve-edits", dependencies=[CsrfChecked])
def preserve_edits(
    request: Request, rt: RuntimeDep, user: AdminUser, preserve_manual_edits: Checkbox = ""
) -> Response:
    on = preserve_manual_edits in ("on", "true", "1")
    try:
        with rt.db.session() as session:
            connections.update_options(session, user.org_id, preserve_manual_edits=on)
    except NotFound as exc:
        return _back(request, "error", str(exc))
    return _back(request, "success", f"Preserve manual edits is {'on' if on else 'off'}.")


@router.post("/push", dependencies=[CsrfChecked])
def push_switch(
    request: Request, rt: RuntimeDep, user: AdminUser, push_enabled: Checkbox = ""
) -> Response:
    """ "Push: disabled" (``PATCH …/connection {push_enabled}``): off, every push waits queued;
    on again, the queue resumes where it stopped."""
    on = push_enabled in ("on", "true", "1")
    try:
        with rt.db.session() as session:
            conn = connections.require_connection(session, user.org_id)
            resumed = triggers.set_push_options(session, conn, PushOptions(enabled=on))
            connection_id = conn.id
    except NotFound as exc:
        return _back(request, "error", str(exc))
    if resumed:
        rt.kick(connection_id)
    said = "on" if on else "off: everything waits in the queue until you switch it on"
    return _back(request, "success", f"Pushing to the CRM is {said}.")


@router.post("/disconnect", dependencies=[CsrfChecked])
def disconnect(request: Request, rt: RuntimeDep, user: AdminUser) -> Response:
    try:
        with rt.db.session() as session:
            conn = connections.disconnect(session, user.org_id)
            name = rt.spec(conn.provider).display_name
    except NotFound as exc:
        return _back(request, "error", str(exc))
    return _back(
        request,
        "success",
        f"Disconnected from {name}. Records already in {name} were left as they are.",
    )


@router.post("/setup", dependencies=[CsrfChecked])
def setup(
    request: Request, rt: RuntimeDep, user: AdminUser, create_missing_fields: Checkbox = ""
) -> Response:
    create = create_missing_fields in ("on", "true", "1")
    try:
        conn = asyncio.run(connections.run_setup(rt, user.org_id, create))
    except ConnectorError as exc:
        return _back(request, "error", f"The CRM did not answer as expected: {exc}")
    except CrmSyncError as exc:
        return _back(request, "error", str(exc))
    missing = conn.settings.get("setup", {}).get("missing", [])
    if missing:
        return _back(request, "error", f"Still missing: {', '.join(missing)}.")
    return _back(request, "success", "Setup is complete; syncing resumes.")


@router.get("/logos/{provider}.svg")
def logo(provider: str, rt: RuntimeDep) -> Response:
    path = provider_logo(rt, provider)
    if path is None:
        return Response(status_code=404)
    return FileResponse(path, media_type="image/svg+xml")
