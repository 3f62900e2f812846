"""Integration logs (with retry) and the person view."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crmsync.api.deps import RuntimeDep
from crmsync.api.schemas import DB_INT_MAX, OperationOut
from crmsync.db.tables import Operation, OpStatus, Person
from crmsync.errors import CrmSyncError, NotFound
from crmsync.services import connections, operations
from crmsync.web.auth import AdminUser, CsrfChecked, CurrentUser, flash
from crmsync.web.cards import live_status
from crmsync.web.routes_auth import safe_next
from crmsync.web.views import render

LOGS = "/settings/logs"
router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
BackTo = Annotated[str, Form(max_length=500)]
OperationId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]  # beyond: the database overflows


def latest_runs(session: Session, org_id: str, ops: list[OperationOut]) -> set[int]:
    """Of these operations, those that are their person's latest run: only those can be
    retried from the page (an older failure was already followed by another run)."""
    people = {op.person_id for op in ops}
    if not people:
        return set()
    newest = session.execute(
        select(func.max(Operation.id))
        .where(Operation.org_id == org_id, Operation.person_id.in_(people))
        .group_by(Operation.person_id)
    )
    return {int(op_id) for (op_id,) in newest}


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
) -> Response:
    status = status if status in {s.value for s in OpStatus} else ""
    person = person.strip()
    context: dict[str, object] = {
        "page": "logs",
        "status": status,
        "person": person,
        "statuses": [s.value for s in OpStatus],
        "ops": [],
        "connection": None,
        "older": None,
        "redraw": "none",
        "latest": set(),
        "record_label": "",
    }
    with rt.db.session() as session:
        conn = connections.active_connection(session, user.org_id)
        if conn is not None:
            ops = operations.list_operations(
                session, user.org_id, status or None, person or None, PAGE_SIZE + 1, before
            )
            status_now = operations.connection_status(rt, session, conn)
            context["connection"] = status_now
            context["redraw"] = live_status(status_now)["redraw"]
            context["record_label"] = rt.spec(conn.provider).record_label
            context["ops"] = ops[:PAGE_SIZE]
            context["latest"] = latest_runs(session, user.org_id, ops[:PAGE_SIZE])
            context["older"] = ops[PAGE_SIZE - 1].id if len(ops) > PAGE_SIZE else None
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


@router.get("/settings/people")
def find_person(person: Annotated[str, Query(max_length=128)] = "") -> RedirectResponse:
    target = f"/settings/people/{quote(person.strip(), safe='')}" if person.strip() else LOGS
    return RedirectResponse(target, status_code=303)


@router.get("/settings/people/{person_id}")
def person_view(person_id: str, request: Request, rt: RuntimeDep, user: CurrentUser) -> Response:
    context: dict[str, object] = {"page": "logs", "person_id": person_id, "person": None}
    with rt.db.session() as session:
        try:
            sync = operations.person_sync(rt, session, user.org_id, person_id)
        except NotFound as exc:
            context.update(sync=None, history=[], missing=str(exc))
        else:
            history = operations.list_operations(session, user.org_id, None, person_id, 20)
            context["latest"] = latest_runs(session, user.org_id, history)
            name = rt.spec(sync.provider).display_name
            context["person"] = session.get(Person, person_id)  # only people this org syncs
            context.update(
                sync=sync,
                history=history,
                missing="",
                provider_name=name,
                record_label=rt.spec(sync.provider).record_label,
            )
    status = 200 if context["sync"] is not None else 404
    return render(request, rt, "person.html", context, user=user, status_code=status)
