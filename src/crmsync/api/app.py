"""Builds the FastAPI application around a Runtime."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from crmsync import __version__
from crmsync.api.routes import connection, health, host, oauth
from crmsync.engine.runtime import Runtime
from crmsync.errors import ConnectorError, InputError
from crmsync.web import install as install_web


def create_app(rt: Runtime) -> FastAPI:
    app = FastAPI(
        title="crmsync",
        version=__version__,
        description="Keeps an application's people in sync with its customers' CRMs.",
    )
    app.state.runtime = rt
    app.include_router(health.router)
    app.include_router(host.router)
    app.include_router(connection.router)
    app.include_router(oauth.router)
    install_web(app, rt)  # the admin UI: sign-in, Settings → Integrations, logs

    @app.exception_handler(InputError)
    async def _input_error(_request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)

    @app.exception_handler(ConnectorError)
    async def _crm_error(_request: Request, exc: ConnectorError) -> JSONResponse:
        return JSONResponse({"detail": f"the CRM call failed: {exc}"}, status_code=502)

    return app
