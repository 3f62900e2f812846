"""Host API, two-way sync: the org's change feed and the webhook endpoints it is pushed to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from crmsync.api.deps import HostAuth, RuntimeDep
from crmsync.api.feed_schemas import (
    ChangeOut,
    ChangesPage,
    DeliveryOut,
    RecordField,
    RecordOut,
    WebhookDeleted,
    WebhookIn,
    WebhookOut,
)
from crmsync.api.schemas import SafeStr, errors
from crmsync.engine.delivery import PENDING
from crmsync.services import record_view, webhooks

router = APIRouter(prefix="/api/v1", tags=["two-way sync"])
Entity = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
RecordId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")]
EndpointId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
Cursor = Annotated[int, Query(ge=0, le=2**62, description="Exclusive: changes after this seq.")]
Limit = Annotated[int, Query(ge=1, le=webhooks.MAX_LIMIT, description="At most 1,000.")]


@router.get("/orgs/{org_id}/changes", response_model=ChangesPage, responses=errors(401, 404, 422))
def list_changes(
    org_id: SafeStr,
    rt: RuntimeDep,
    _: HostAuth,
    after: Cursor = 0,
    limit: Limit = webhooks.DEFAULT_LIMIT,
) -> ChangesPage:
    """What changed in the org's CRM, oldest first; poll with ``after=next`` forever."""
    with rt.db.session() as session:
        items, cursor = webhooks.changes_after(session, org_id, after, limit)
    return ChangesPage(changes=[ChangeOut.model_validate(i) for i in items], next=cursor)


@router.post(
    "/orgs/{org_id}/webhooks",
    response_model=WebhookOut,
    status_code=201,
    responses=errors(401, 404, 422),
)
def create_webhook(org_id: SafeStr, body: WebhookIn, rt: RuntimeDep, _: HostAuth) -> WebhookOut:
    """Every later change of the org is POSTed to ``url``, signed with the returned secret."""
    endpoint = rt.db.transaction(
        lambda session: webhooks.create_endpoint(rt, session, org_id, body.url)
    )
    return WebhookOut(id=endpoint.id, url=endpoint.url, secret=endpoint.secret)


@router.get(
    "/orgs/{org_id}/webhooks", response_model=list[WebhookOut], responses=errors(401, 404, 422)
)
def list_webhooks(org_id: SafeStr, rt: RuntimeDep, _: HostAuth) -> list[WebhookOut]:
    with rt.db.session() as session:
        endpoints = webhooks.list_endpoints(rt, session, org_id)
    return [WebhookOut(id=e.id, url=e.url, secret=e.secret) for e in endpoints]


@router.delete(
    "/orgs/{org_id}/webhooks/{endpoint_id}",
    response_model=WebhookDeleted,
    responses=errors(401, 404, 422),
)
def delete_webhook(
    org_id: SafeStr, endpoint_id: EndpointId, rt: RuntimeDep, _: HostAuth
) -> WebhookDeleted:
    """Stop delivering to the endpoint; its pending deliveries are dropped, never sent."""
    dropped = rt.db.transaction(
        lambda session: webhooks.delete_endpoint(session, org_id, endpoint_id)
    )
    return WebhookDeleted(id=endpoint_id, pending_dropped=dropped)


@router.get(
    "/orgs/{org_id}/webhooks/{endpoint_id}/deliveries",
    response_model=list[DeliveryOut],
    responses=errors(401, 404, 422),
)
def list_deliveries(
    org_id: SafeStr,
    endpoint_id: EndpointId,
    rt: RuntimeDep,
    _: HostAuth,
    limit: Limit = webhooks.DEFAULT_LIMIT,
) -> list[DeliveryOut]:
    """The endpoint's deliveries, newest first."""
    with rt.db.session() as session:
        rows = webhooks.list_deliveries(session, org_id, endpoint_id, limit)
        return [
            DeliveryOut(
                id=r.id,
                change_seq=r.change_seq,
                status=r.status,  # type: ignore[arg-type]
                attempts=r.attempts,
                next_attempt_at=r.next_attempt_at if r.status == PENDING else None,
                last_status_code=r.last_status_code,
                last_error=r.last_error,
                delivered_at=r.delivered_at,
                created_at=r.created_at,
            )
            for r in rows
        ]


@router.get(
    "/orgs/{org_id}/records/{entity}/{record_id}",
    response_model=RecordOut,
    responses=errors(401, 404, 422),
)
def get_record(
    org_id: SafeStr, entity: Entity, record_id: RecordId, rt: RuntimeDep, _: HostAuth
) -> RecordOut:
    """The org's view of a record: each mapped field's value (the CRM's for the fields it
    owns), its owner, and when it last changed on each side."""
    with rt.db.session() as session:
        view = record_view.record_view(
            session, org_id, entity, record_id, rt.settings.profile_url_template
        )
    return RecordOut(
        entity=view.entity,
        record_id=view.record_id,
        active=view.active,
        owner=view.owner,  # type: ignore[arg-type]
        fields={
            name: RecordField(value=f.value, owner=f.owner, changed_at=f.changed_at)
            for name, f in view.fields.items()
        },
    )
