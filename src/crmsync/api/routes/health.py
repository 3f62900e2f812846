"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlalchemy import text

from crmsync.api.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(rt: RuntimeDep) -> dict[str, str]:
    try:
        with rt.db.session() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:
        raise HTTPException(503, f"database unavailable: {type(exc).__name__}") from exc
    return {"status": "ready"}
