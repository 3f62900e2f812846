"""Settings → Integrations: connect through a popup, watch the sync, change options."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from crmsync.api.deps import RuntimeDep
from crmsync.browser import session_binding
from crmsync.domain.commands import PushOptions
from crmsync.engine.inbound import MAX_INTERVAL, MIN_INTERVAL
from crmsync.errors import ConnectorError, CrmSyncError, NotFound
from crmsync.services import connections, readback, triggers
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
from crmsync.web.views import every, render, sentence

PAGE = "/settings/integrations"
router = APIRouter(prefix=PAGE, include_in_schema=False)
Checkbox = Annotated[str, Form(max_length=10)]
AppCredential = Annotated[str, Form(max_length=300)]
"""A field of an organisation's own OAuth app (client id, secret, login host); empty: unused."""
Minutes = Annotated[str, Form()]  # checked by the route, with a message that says why


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
    client_id: AppCredential = "",
    client_secret: AppCredential = "",
    login_host: AppCredential = "",
) -> Response:
    if provider not in rt.providers:
        return _back(request, "error", f"Unknown CRM {provider!r}.")
    given = {"client_id": client_id, "client_secret": client_secret, "login_host": login_host}
    options = {name: value.strip() for name, value in given.items() if value.strip()}
    try:
        with rt.db.session() as session:
            url, _state = connections.start_authorization(
                rt,
                session,
                user.org_id,
                provider,
                skip_backfill=bool(skip_backfill),
                session_binding=session_binding(request),
                options=options,
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


@router.post("/interval", dependencies=[CsrfChecked])
def interval(
    request: Request, rt: RuntimeDep, user: AdminUser, sync_interval_minutes: Minutes = ""
) -> Response:
    """How often the CRM is read back: 10 minutes to 24 hours."""
    text = sync_interval_minutes.strip()
    minutes = int(text) if text.isascii() and text.isdigit() else None
    if minutes is None or not MIN_INTERVAL <= minutes <= MAX_INTERVAL:
        return _back(
            request,
            "error",
            f"Choose a sync interval between {MIN_INTERVAL} minutes and 24 hours, in minutes "
            f"({MIN_INTERVAL} to {MAX_INTERVAL}). Nothing was changed.",
        )
    try:
        with rt.db.session() as session:
            readback.set_interval(
                session, connections.require_connection(session, user.org_id), minutes
            )
    except CrmSyncError as exc:
        return _back(request, "error", str(exc))
    return _back(request, "success", f"{every(minutes)}: the CRM is read back that often.")


@router.post("/sync", dependencies=[CsrfChecked])
def sync(request: Request, rt: RuntimeDep, user: AdminUser, full: Checkbox = "") -> Response:
    """ "Sync now" reads the CRM's changes back at once; "Full sync" reads every record."""
    whole = full in ("on", "true", "1")
    try:
        with rt.db.session() as session:
            conn = connections.require_connection(session, user.org_id)
            readback.sync_now(session, conn, whole)
            connection_id = conn.id
    except CrmSyncError as exc:
        return _back(request, "error", sentence(str(exc)))
    rt.kick(connection_id)
    return _back(
        request,
        "success",
        "A full sync is queued: every record is read back from the CRM."
        if whole
        else "A sync is queued: the CRM's changes are read back now.",
    )


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
