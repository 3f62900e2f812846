"""``create_app``: the HighLevel emulator as one FastAPI app.

One app answers both hosts HighLevel uses (``marketplace.gohighlevel.com`` for the
chooselocation page, ``services.leadconnectorhq.com`` for the API and tokens), in-process
through ``httpx.ASGITransport`` or served by uvicorn (``crmsync emulate highlevel``).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from crmsync.emulation import create_control_router, install_policy
from crmsync.providers.highlevel.emulator import (
    recordpage,
    routes_contacts,
    routes_control,
    routes_locations,
    routes_oauth,
)
from crmsync.providers.highlevel.emulator.config import HighLevelEmulatorConfig
from crmsync.providers.highlevel.emulator.errors import (
    HighLevelError,
    handle_highlevel_error,
    handle_unknown_route,
    handle_validation_error,
)
from crmsync.providers.highlevel.emulator.state import HighLevelEmulator


def create_app(config: HighLevelEmulatorConfig | None = None, *, served: bool = False) -> FastAPI:
    """A fresh emulated agency; ``app.state.emulator`` is its :class:`HighLevelEmulator`."""
    emulator = HighLevelEmulator(config or HighLevelEmulatorConfig(), served=served)
    app = FastAPI(
        title="HighLevel emulator (crmsync)",
        docs_url="/_emulator/docs",
        redoc_url=None,
        openapi_url="/_emulator/openapi.json",
    )
    app.state.emulator = emulator
    install_policy(app, emulator.policy)
    app.add_exception_handler(HighLevelError, handle_highlevel_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_unknown_route)
    for router in (routes_oauth.router, routes_contacts.router, routes_locations.router):
        app.include_router(router)
    app.include_router(recordpage.router)  # the record page the admin UI links to
    app.include_router(create_control_router(emulator.controls))
    app.include_router(routes_control.router)
    return app
