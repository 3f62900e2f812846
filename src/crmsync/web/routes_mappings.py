"""The connected CRM's Mappings tab: which app field goes to which CRM field, and which side
is the source of truth. Members see it; admins change it. Everything goes through the
mappings service, which checks the whole set and saves it or nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from crmsync.api.deps import RuntimeDep
from crmsync.domain.enums import System
from crmsync.domain.mapping import ValueKind
from crmsync.domain.views import CrmCatalogue, SavedMappings
from crmsync.engine.runtime import Runtime
from crmsync.errors import CrmSyncError
from crmsync.services import app_fields, connections, crm_catalogue, mappings, operations
from crmsync.web.auth import AdminUser, CsrfChecked, CurrentUser, WebUser, flash, wants_json
from crmsync.web.mapping_form import Problem, Row, parse, service_problems, view_rows
from crmsync.web.views import render, sentence

PAGE = "/settings/integrations/mappings"
router = APIRouter(prefix=PAGE, include_in_schema=False)
Column = Annotated[list[str], Form()]
KINDS = tuple(k.value for k in ValueKind)


@router.get("")
def mappings_page(request: Request, rt: RuntimeDep, user: CurrentUser) -> Response:
    return _page(request, rt, user)


@router.post("", dependencies=[CsrfChecked])
def save(
    request: Request,
    rt: RuntimeDep,
    user: AdminUser,
    obj: Column = [],  # noqa: B006 (FastAPI copies a default; a list field needs one)
    app_field: Column = [],  # noqa: B006
    crm_field: Column = [],  # noqa: B006
    canonical: Column = [],  # noqa: B006
    kind: Column = [],  # noqa: B006
    remove: Column = [],  # noqa: B006
) -> Response:
    """Save the whole set, or show every problem and change nothing (422)."""
    with rt.db.session() as session:
        conn = connections.active_connection(session, user.org_id)
        view = mappings.mappings_view(rt, session, conn) if conn is not None else None
    if view is None:
        return _page(request, rt, user, problems=[Problem("No CRM is connected.")], code=409)
    columns = (obj, app_field, crm_field, canonical, kind)
    rows, problems, command = parse(view, user.id, columns, remove)
    if command is None:
        return _refused(request, rt, user, rows, problems)
    try:
        saved = asyncio.run(mappings.save_mappings(rt, user.org_id, command))
    except mappings.MappingProblems as exc:
        return _refused(request, rt, user, rows, service_problems(rows, exc.problems))
    except CrmSyncError as exc:
        return _refused(request, rt, user, rows, [Problem(sentence(str(exc)))])
    if wants_json(request):
        return JSONResponse({"ok": True, "detail": saved.summary})
    return _page(request, rt, user, saved=saved)


@router.post("/refresh", dependencies=[CsrfChecked])
def refresh(request: Request, rt: RuntimeDep, user: AdminUser) -> Response:
    """Read the CRM's field catalogue again (after a field was created there)."""
    try:
        found = asyncio.run(crm_catalogue.catalogue(rt, user.org_id, refresh=True))
    except CrmSyncError as exc:
        text, ok = f"The CRM's fields could not be read: {sentence(str(exc))}", False
    else:
        text = (
            f"Read {len(found.fields)} fields of {found.crm_object} from "
            f"{rt.spec(found.provider).display_name}."
            if found.checked
            else "This CRM cannot list its fields: type CRM field names as the CRM spells them."
        )
        ok = True
    if wants_json(request):
        return JSONResponse({"ok": ok, "detail": text}, status_code=200 if ok else 409)
    flash(request, "success" if ok else "error", text)
    return RedirectResponse(PAGE, status_code=303)


def _refused(
    request: Request, rt: Runtime, user: WebUser, rows: list[Row], problems: Sequence[Problem]
) -> Response:
    if wants_json(request):
        return JSONResponse({"ok": False, "problems": [p.text for p in problems]}, 422)
    return _page(request, rt, user, rows=rows, problems=problems, code=422)


def _page(
    request: Request,
    rt: Runtime,
    user: WebUser,
    rows: list[Row] | None = None,
    problems: Sequence[Problem] = (),
    saved: SavedMappings | None = None,
    code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "page": "integrations",
        "connection": None,
        "problems": list(problems),
        "bad_rows": {p.row for p in problems if p.row is not None},
        "saved": saved,
        "canonicals": [s.value for s in System],
        "kinds": KINDS,
    }
    with rt.db.session() as session:
        conn = connections.active_connection(session, user.org_id)
        if conn is not None:
            view = saved.mappings if saved else mappings.mappings_view(rt, session, conn)
            context["connection"] = operations.connection_status(rt, session, conn)
            context["view"] = view
            context["rows"] = rows if rows is not None else view_rows(view)
            context["app_fields"] = app_fields.app_fields(session, user.org_id)
    if conn is not None:
        context["catalogue"], context["catalogue_error"] = _catalogue(rt, user.org_id)
    return render(request, rt, "mappings.html", context, user=user, status_code=code)


def _catalogue(rt: Runtime, org_id: str) -> tuple[CrmCatalogue | None, str]:
    """The CRM's fields to choose from: the kept ones, or the CRM's answer (not kept: a page
    writes nothing; Refresh and a saved set keep it)."""
    try:
        return asyncio.run(crm_catalogue.peek(rt, org_id)), ""
    except CrmSyncError as exc:
        return None, f"The CRM's fields could not be read: {sentence(str(exc))}"
