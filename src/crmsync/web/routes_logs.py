"""Integration logs, with retries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from crmsync.api.deps import RuntimeDep
from crmsync.api.schemas import DB_INT_MAX
from crmsync.domain.enums import OpStatus
from crmsync.errors import CrmSyncError
from crmsync.services import connections, operations
from crmsync.web.auth import AdminUser, CsrfChecked, CurrentUser, flash
from crmsync.web.cards import live_status
from crmsync.web.logpage import DIRECTIONS, EXPORT, LogQuery, crm_labels, log_page
from crmsync.web.routes_auth import safe_next
from crmsync.web.views import render

LOGS = "/settings/logs"
router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
BackTo = Annotated[str, Form(max_length=500)]
OperationId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]  # beyond: the database overflows


def _back_to_logs(target: str) -> str:
    target = safe_next(target)
    return target if target.startswith(LOGS) or target.startswith("/settings/people/") else LOGS


@router.get(LOGS)
def logs(
    request: Request,
    rt: RuntimeDep,
    user: CurrentUser,
    status: Annotated[str, Query(max_length=30)] = "",
    person: Annotated[str, Query(max_length=128)] = "",
    before: Annotated[int | None, Query(ge=1, le=DB_INT_MAX)] = None,
    after: Annotated[int | None, Query(ge=1, le=DB_INT_MAX)] = None,
    connection: Annotated[str, Query(max_length=32)] = "",
    direction: Annotated[str, Query(max_length=10)] = EXPORT,
    entity: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    status = status if status in {s.value for s in OpStatus} else ""
    person = person.strip()
    direction = direction if direction in DIRECTIONS else EXPORT
    entity = entity.strip()
    context: dict[str, object] = {
        "page": "logs",
        "status": status,
        "person": person,
        "statuses": [s.value for s in OpStatus],
        "direction": direction,
        "entity": entity,
        "connection": None,
        "redraw": "none",
        "log": None,
        "crms": crm_labels(rt),
    }
    with rt.db.session() as session:
        conn = connections.active_connection(session, user.org_id)
        if conn is not None:
            status_now = operations.connection_status(rt, session, conn)
            context["connection"] = status_now
            context["redraw"] = live_status(status_now)["redraw"]
            query = LogQuery(
                status, person, connection or conn.id, before, after, direction, entity
            )
            context["log"] = log_page(rt, session, user.org_id, query, PAGE_SIZE)
    return render(request, rt, "logs.html", context, user=user)


@router.post(LOGS + "/retry-failed", dependencies=[CsrfChecked])
def retry_failed(
    request: Request, rt: RuntimeDep, user: AdminUser, back: BackTo = LOGS
) -> Response:
    try:
        with rt.db.session() as session:
            connection_id, count = operations.retry_all_failed(session, user.org_id)
    except CrmSyncError as exc:
        flash(request, "error", str(exc))
    else:
        rt.kick(connection_id)
        flash(request, "success", f"Retrying {count} failed operation{'s' if count != 1 else ''}.")
    return RedirectResponse(_back_to_logs(back), status_code=303)


@router.post(LOGS + "/{operation_id}/retry", dependencies=[CsrfChecked])
def retry(
    operation_id: OperationId,
    request: Request,
    rt: RuntimeDep,
    user: AdminUser,
    back: BackTo = LOGS,
) -> Response:
    try:
        with rt.db.session() as session:
            connection_id = operations.retry_operation(session, user.org_id, operation_id)
    except CrmSyncError as exc:
        flash(request, "error", str(exc))
    else:
        rt.kick(connection_id)
        flash(request, "success", f"Operation {operation_id} is queued for retry.")
    return RedirectResponse(_back_to_logs(back), status_code=303)
