"""Builds the host API's FastAPI application around a Runtime. It knows nothing of the admin
UI: the service assembly (``crmsync.service.create_product_app``) installs that beside it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from crmsync import __version__
from crmsync.api.limits import BodyLimit
from crmsync.api.routes import (
    connection,
    conversations,
    crm_webhooks,
    feed,
    health,
    host,
    mappings,
    oauth,
    providers,
    triggers,
)
from crmsync.api.schemas import errors
from crmsync.engine.runtime import Runtime
from crmsync.errors import ConnectorError, InputError


def _printable(text: str) -> str:
    """``text`` as something UTF-8 can encode: a lone surrogate is shown as ``\\ud800``."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _field_issue(error: Any) -> dict[str, Any]:
    """One validation error as the API's ``FieldIssue``: where and why, never the input.

    FastAPI's default answer echoes the rejected value, which can be a secret (an API key, a
    password) and can fail to serialise (a lone surrogate), turning the refusal into a 500."""
    loc = [part if isinstance(part, int) else _printable(str(part)) for part in error["loc"]]
    return {"loc": loc, "msg": _printable(str(error["msg"])), "type": str(error["type"])}


def create_app(rt: Runtime) -> FastAPI:
    app = FastAPI(
        title="crmsync",
        version=__version__,
        description="Keeps an application's people in sync with its customers' CRMs.",
        responses=errors(413),
    )
    app.add_middleware(BodyLimit, max_bytes=rt.settings.max_body_bytes)
    app.state.runtime = rt
    app.include_router(health.router)
    app.include_router(host.router)
    app.include_router(connection.router)
    app.include_router(conversations.router)
    app.include_router(providers.router)
    app.include_router(mappings.router)
    app.include_router(triggers.router)
    app.include_router(feed.router)
    app.include_router(oauth.router)
    app.include_router(crm_webhooks.router)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": [_field_issue(e) for e in exc.errors()]}, status_code=422)

    @app.exception_handler(InputError)
    async def _input_error(_request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)

    @app.exception_handler(ConnectorError)
    async def _crm_error(_request: Request, exc: ConnectorError) -> JSONResponse:
        return JSONResponse({"detail": f"the CRM call failed: {exc}"}, status_code=502)

    return app
