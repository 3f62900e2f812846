"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from crmsync.api.deps import RuntimeDep
from crmsync.api.schemas import errors
from crmsync.metrics import registry_for, render

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request, rt: RuntimeDep) -> PlainTextResponse:
    """Prometheus metrics (text exposition format)."""
    registry = getattr(request.app.state, "metrics", None)
    if registry is None:
        registry = request.app.state.metrics = registry_for(rt.db, rt.calls, rt.sync_latency)
    return PlainTextResponse(render(registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/readyz", responses=errors(503))
def readyz(rt: RuntimeDep) -> dict[str, str]:
    try:
        with rt.db.session() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:
        raise HTTPException(503, f"database unavailable: {type(exc).__name__}") from exc
    return {"status": "ready"}
