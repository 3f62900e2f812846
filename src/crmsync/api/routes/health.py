"""Liveness and readiness."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from crmsync.api.deps import RuntimeDep, same_secret
from crmsync.api.schemas import Message, errors
from crmsync.metrics import registry_for, render

router = APIRouter(tags=["health"])
metrics_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="MetricsToken",
    description="The `metrics_token` setting, when set.",
)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/metrics",
    responses={
        200: {"description": "The metrics.", "content": {"text/plain": {}}},
        401: {"model": Message, "description": "`metrics_token` is set and was not sent."},
        404: {"model": Message, "description": "No token is set: only loopback clients."},
    },
)
def metrics(
    request: Request,
    rt: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(metrics_bearer)],
) -> PlainTextResponse:
    """Prometheus metrics (text exposition format). They describe every organisation, so
    with ``metrics_token`` set the scraper sends it (Bearer); without, only clients on this
    host (loopback) read them, and anyone else gets a 404."""
    _allow_scrape(request, rt.settings.metrics_token, credentials)
    registry = getattr(request.app.state, "metrics", None)
    if registry is None:
        registry = request.app.state.metrics = registry_for(rt.db, rt.calls, rt.sync_latency)
    return PlainTextResponse(render(registry), media_type=CONTENT_TYPE_LATEST)


def _allow_scrape(
    request: Request, token: str, credentials: HTTPAuthorizationCredentials | None
) -> None:
    if not token:
        if not _loopback(request.client.host if request.client else ""):
            raise HTTPException(404, "Not Found")
        return
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "/metrics needs its token (Authorization: Bearer ...)")
    if not same_secret(credentials.credentials, token):
        raise HTTPException(401, "invalid metrics token")


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # not an address (a test client's name, a Unix socket)
        return False


@router.get("/readyz", responses=errors(503))
def readyz(rt: RuntimeDep) -> dict[str, str]:
    try:
        with rt.db.session() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:
        raise HTTPException(503, f"database unavailable: {type(exc).__name__}") from exc
    return {"status": "ready"}
