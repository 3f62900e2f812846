"""A person's page: their record in each connection's CRM, its history, and "Sync to CRM"."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from crmsync.api.deps import RuntimeDep
from crmsync.errors import CrmSyncError, NotFound
from crmsync.services import history, triggers
from crmsync.web.auth import AdminUser, CsrfChecked, CurrentUser, flash
from crmsync.web.logpage import crm_labels
from crmsync.web.views import render, sentence

LOGS = "/settings/logs"
PEOPLE = "/settings/people"
router = APIRouter(include_in_schema=False)


def person_path(person_id: str) -> str:
    return f"{PEOPLE}/{quote(person_id, safe='')}"


@router.get(PEOPLE)
def find_person(person: Annotated[str, Query(max_length=128)] = "") -> RedirectResponse:
    target = person_path(person.strip()) if person.strip() else LOGS
    return RedirectResponse(target, status_code=303)


@router.get(PEOPLE + "/{person_id}")
def person_view(person_id: str, request: Request, rt: RuntimeDep, user: CurrentUser) -> Response:
    context: dict[str, object] = {
        "page": "logs",
        "person_id": person_id,
        "person": None,
        "sections": [],
        "missing": "",
        "crms": crm_labels(rt),
    }
    with rt.db.session() as session:
        try:
            context["sections"] = history.person_history(rt, session, user.org_id, person_id)
        except NotFound as exc:
            context["missing"] = str(exc)
        else:
            context["person"] = history.person_details(session, user.org_id, person_id)
    status = 404 if context["missing"] else 200
    return render(request, rt, "person.html", context, user=user, status_code=status)


@router.post(PEOPLE + "/{person_id}/sync", dependencies=[CsrfChecked])
def sync_now(person_id: str, request: Request, rt: RuntimeDep, user: AdminUser) -> Response:
    """ "Sync to CRM": the manual push of ``POST /api/v1/orgs/{org}/people/{id}/sync``, live
    (only what changed since the last write is written)."""
    try:
        done = rt.db.transaction(lambda session: triggers.push_now(session, user.org_id, person_id))
    except CrmSyncError as exc:
        flash(request, "error", sentence(str(exc)))
    else:
        if done.connection_id is not None:
            rt.kick(done.connection_id)
        flash(request, "success", sentence(done.reason))
    return RedirectResponse(person_path(person_id), status_code=303)
