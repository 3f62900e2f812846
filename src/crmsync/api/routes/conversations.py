"""Host API: the conversations the host had with people, exported to the org's CRM."""

from __future__ import annotations

from fastapi import APIRouter

from crmsync.api.conversation_schemas import (
    ConversationIn,
    ConversationList,
    ConversationsAccepted,
)
from crmsync.api.deps import HostAuth, RuntimeDep
from crmsync.api.schemas import SafeStr, errors
from crmsync.services import conversations

router = APIRouter(prefix="/api/v1", tags=["conversations"])


@router.post(
    "/orgs/{org_id}/conversations",
    response_model=ConversationsAccepted,
    status_code=202,
    responses=errors(400, 401, 404, 409, 422),
)
def post_conversations(
    org_id: SafeStr, body: ConversationIn | ConversationList, rt: RuntimeDep, _: HostAuth
) -> ConversationsAccepted:
    """Record conversations (one, or a list of up to 1,000): each is exported to the org's
    CRM, linked to its contact's record (the contact pushed first if it is not there yet).
    Posting a known id again updates it, in crmsync and in the CRM. Needs conversations
    enabled on the connection (409 otherwise); one invalid item refuses the whole request."""
    items = [item.command() for item in (body if isinstance(body, list) else [body])]
    done = rt.db.transaction(lambda session: conversations.record(session, org_id, items))
    if done.created or done.updated or done.contacts_queued:
        rt.kick(done.connection_id)
    return ConversationsAccepted(
        accepted=len(items),
        created=done.created,
        updated=done.updated,
        unchanged=done.unchanged,
        contacts_queued=done.contacts_queued,
    )
