"""``create_app``: the HubSpot emulator as one FastAPI app.

In-process: ``httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app()))``. Served:
``uvicorn.run(create_app(served=True))``, which is what ``crmsync emulate hubspot`` runs.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from crmsync.emulation.app import create_emulator_app
from crmsync.providers.hubspot.emulator import (
    recordpage,
    routes_batch,
    routes_control,
    routes_notes,
    routes_oauth,
    routes_objects,
    routes_schema,
)
from crmsync.providers.hubspot.emulator.config import HubSpotEmulatorConfig
from crmsync.providers.hubspot.emulator.errors import (
    HubSpotError,
    handle_hubspot_error,
    handle_validation_error,
    unrouted,
)
from crmsync.providers.hubspot.emulator.state import HubSpotEmulator


def create_app(config: HubSpotEmulatorConfig | None = None, *, served: bool = False) -> FastAPI:
    """A fresh emulated portal; ``app.state.emulator`` is its :class:`HubSpotEmulator`."""
    return create_emulator_app(
        HubSpotEmulator(config or HubSpotEmulatorConfig(), served=served),
        title="HubSpot emulator (crmsync)",
        error_handlers=(
            (HubSpotError, handle_hubspot_error),
            (RequestValidationError, handle_validation_error),
        ),
        unrouted=unrouted,
        routers=(
            routes_oauth.router,
            recordpage.router,  # the record page the admin UI links to
            # batch routes first: "/batch/read" must not be taken for a contact id
            *routes_batch.ROUTERS,
            *routes_objects.ROUTERS,
            routes_notes.router,
            *routes_schema.ROUTERS,
            routes_schema.owners_router,
            routes_schema.account_router,
        ),
        control_router=routes_control.router,
    )
