"""``create_app``: the HubSpot emulator as one FastAPI app.

In-process: ``httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app()))``. Served:
``uvicorn.run(create_app(served=True))``, which is what ``crmsync emulate hubspot`` runs.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from crmsync.emulation import create_control_router, install_policy
from crmsync.providers.hubspot.emulator import (
    recordpage,
    routes_batch,
    routes_control,
    routes_oauth,
    routes_objects,
    routes_schema,
)
from crmsync.providers.hubspot.emulator.config import HubSpotEmulatorConfig
from crmsync.providers.hubspot.emulator.errors import (
    HubSpotError,
    handle_hubspot_error,
    handle_unrouted,
    handle_validation_error,
)
from crmsync.providers.hubspot.emulator.state import HubSpotEmulator


def create_app(config: HubSpotEmulatorConfig | None = None, *, served: bool = False) -> FastAPI:
    """A fresh emulated portal; ``app.state.emulator`` is its :class:`HubSpotEmulator`."""
    emulator = HubSpotEmulator(config or HubSpotEmulatorConfig(), served=served)
    app = FastAPI(
        title="HubSpot emulator (crmsync)",
        docs_url="/_emulator/docs",
        redoc_url=None,
        openapi_url="/_emulator/openapi.json",
    )
    app.state.emulator = emulator
    install_policy(app, emulator.policy)
    app.add_exception_handler(HubSpotError, handle_hubspot_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(HTTPException, handle_unrouted)
    app.include_router(routes_oauth.router)
    app.include_router(recordpage.router)  # the record page the admin UI links to
    # batch routes first: "/batch/read" must not be taken for a contact id
    for router in (*routes_batch.ROUTERS, *routes_objects.ROUTERS, *routes_schema.ROUTERS):
        app.include_router(router)
    app.include_router(routes_schema.owners_router)
    app.include_router(routes_schema.account_router)
    app.include_router(create_control_router(emulator.controls))
    app.include_router(routes_control.router)
    return app
