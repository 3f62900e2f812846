"""``create_app``: the Close emulator as one FastAPI app.

In-process: ``httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app()))``. Served:
``uvicorn.run(create_app(served=True))``, which is what ``crmsync emulate close`` runs. It
answers for both app.close.com (consent page) and api.close.com (token endpoint, ``/api/v1``).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from crmsync.emulation import create_control_router, install_policy
from crmsync.providers.close.emulator import (
    routes_activities,
    routes_control,
    routes_oauth,
    routes_org,
    routes_records,
)
from crmsync.providers.close.emulator.config import CloseEmulatorConfig
from crmsync.providers.close.emulator.errors import (
    CloseError,
    handle_close_error,
    handle_unknown_route,
    handle_validation_error,
)
from crmsync.providers.close.emulator.state import CloseEmulator


def create_app(config: CloseEmulatorConfig | None = None, *, served: bool = False) -> FastAPI:
    """A fresh emulated Close; ``app.state.emulator`` is its :class:`CloseEmulator`."""
    emulator = CloseEmulator(config or CloseEmulatorConfig(), served=served)
    app = FastAPI(
        title="Close emulator (crmsync)",
        docs_url="/_emulator/docs",
        redoc_url=None,
        openapi_url="/_emulator/openapi.json",
    )
    app.state.emulator = emulator
    install_policy(app, emulator.policy)
    app.add_exception_handler(CloseError, handle_close_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_unknown_route)
    routers = (routes_oauth, routes_records, routes_org, routes_activities)
    for module in routers:
        app.include_router(module.router)
    app.include_router(create_control_router(emulator.controls))
    app.include_router(routes_control.router)
    return app
