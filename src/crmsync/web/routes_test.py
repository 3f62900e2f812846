"""The Test tab: preview one import (a CRM record) or one export (an app contact) field by
field, and "Run test" to do it for real (``services.preview``, the run's own planner).

A preview writes nothing to either side, so every signed-in user may preview (a member's
view stays read-only); only admins may run a test, which writes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, Response

from crmsync.api.deps import RuntimeDep
from crmsync.errors import ConnectorError, CrmSyncError, InputError
from crmsync.services import connections, preview
from crmsync.services.operations import connection_status
from crmsync.web.auth import AdminUser, CsrfChecked, CurrentUser, WebUser, wants_json
from crmsync.web.views import render, sentence

TEST = "/settings/integrations/test"
router = APIRouter(prefix=TEST, include_in_schema=False)
Direction = Annotated[str, Form(max_length=10)]
RecordId = Annotated[str, Form(max_length=128)]


@router.get("")
def test_page(request: Request, rt: RuntimeDep, user: CurrentUser) -> Response:
    return _page(request, rt, user, {})


@router.post("/preview", dependencies=[CsrfChecked])
def preview_one(
    request: Request,
    rt: RuntimeDep,
    user: CurrentUser,
    direction: Direction = "",
    crm_id: RecordId = "",
    person_id: RecordId = "",
) -> Response:
    """What the real run would do with the record; writes nothing."""
    return _answer(request, rt, user, direction, crm_id, person_id, run=False)


@router.post("/run", dependencies=[CsrfChecked])
def run_one(
    request: Request,
    rt: RuntimeDep,
    user: AdminUser,
    direction: Direction = "",
    crm_id: RecordId = "",
    person_id: RecordId = "",
) -> Response:
    """The same import or export, for real; the Logs tab shows it at the top."""
    return _answer(request, rt, user, direction, crm_id, person_id, run=True)


def _answer(
    request: Request,
    rt: RuntimeDep,
    user: WebUser,
    direction: str,
    crm_id: str,
    person_id: str,
    run: bool,
) -> Response:
    form = {"direction": direction, "crm_id": crm_id.strip(), "person_id": person_id.strip()}
    try:
        found = preview.preview(rt, user.org_id, *_target(form), run)
    except ConnectorError as exc:
        return _refused(request, rt, user, form, f"The CRM did not answer as expected: {exc}", 409)
    except CrmSyncError as exc:
        status = exc.status_code if isinstance(exc, InputError) else 409
        return _refused(request, rt, user, form, sentence(str(exc)), status)
    if wants_json(request):
        return JSONResponse({"ok": True, "status": found.status.value, "reason": found.reason})
    return _page(request, rt, user, {"form": form, "preview": found})


def _target(form: dict[str, str]) -> tuple[str, str | None, str | None]:
    """The one id the direction reads: a CRM record id to import, a person id to export."""
    direction = form["direction"]
    if direction not in (preview.IMPORT, preview.EXPORT):
        raise InputError("choose a direction: import (CRM → app) or export (app → CRM)")
    chosen = form["crm_id"] if direction == preview.IMPORT else form["person_id"]
    if not chosen:
        what = "a CRM record id" if direction == preview.IMPORT else "an app contact's person id"
        raise InputError(f"enter {what} to {direction}")
    if direction == preview.IMPORT:
        return direction, chosen, None
    return direction, None, chosen


def _refused(
    request: Request,
    rt: RuntimeDep,
    user: WebUser,
    form: dict[str, str],
    message: str,
    status: int,
) -> Response:
    """Nothing was done: the form again with why, as a 422 like every refused form (fetch
    calls get JSON with the precise status: 404 for an unknown id, 409 for a conflict)."""
    message = f"{message} Nothing was changed."
    if wants_json(request):
        return JSONResponse({"ok": False, "detail": message}, status_code=status)
    return _page(request, rt, user, {"form": form, "error": message}, 422)


def _page(
    request: Request,
    rt: RuntimeDep,
    user: WebUser,
    extra: dict[str, Any],
    status_code: int = 200,
) -> Response:
    with rt.db.session() as session:
        conn = connections.active_connection(session, user.org_id)
        state = connection_status(rt, session, conn) if conn is not None else None
    context: dict[str, Any] = {
        "page": "test",
        "connection": state,
        "form": {"direction": preview.EXPORT, "crm_id": "", "person_id": ""},
        "preview": None,
        "error": "",
        **extra,
    }
    return render(request, rt, "test.html", context, user=user, status_code=status_code)
