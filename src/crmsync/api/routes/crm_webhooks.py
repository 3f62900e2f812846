"""Where CRMs send their webhooks: ``POST /webhooks/{provider}``, beside the OAuth callback
and outside the host API: no API key, the provider's signature is the authentication (401
when it does not check out, nothing kept)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response

from crmsync.api.deps import RuntimeDep
from crmsync.api.schemas import SafeStr, errors
from crmsync.domain.records import WebhookRequest
from crmsync.services import crm_webhooks

router = APIRouter(prefix="/webhooks", tags=["crm webhooks"])


@router.post("/{provider}", status_code=204, responses=errors(401, 404, 422))
async def receive(provider: SafeStr, request: Request, rt: RuntimeDep) -> Response:
    """A CRM's change notification: verified, kept as a hint, and the connection woken."""
    query = f"?{request.url.query}" if request.url.query else ""
    call = WebhookRequest(
        method=request.method,
        uri=f"{rt.settings.public_url.rstrip('/')}{request.url.path}{query}",
        body=await request.body(),
        headers={k.lower(): v for k, v in request.headers.items()},
        now_ms=int(time.time() * 1000),
    )
    for connection_id in crm_webhooks.take(rt, provider, call):
        rt.kick(connection_id)
    return Response(status_code=204)
