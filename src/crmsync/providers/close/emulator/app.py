"""``create_app``: the Close emulator as one FastAPI app.

In-process: ``httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app()))``. Served:
``uvicorn.run(create_app(served=True))``, which is what ``crmsync emulate close`` runs. It
answers for both app.close.com (consent page) and api.close.com (token endpoint, ``/api/v1``).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from crmsync.emulation.app import create_emulator_app
from crmsync.providers.close.emulator import (
    routes_activities,
    routes_control,
    routes_events,
    routes_logged,
    routes_notes,
    routes_oauth,
    routes_opportunities,
    routes_org,
    routes_records,
)
from crmsync.providers.close.emulator.config import CloseEmulatorConfig
from crmsync.providers.close.emulator.errors import (
    CloseError,
    handle_close_error,
    handle_validation_error,
    unrouted,
)
from crmsync.providers.close.emulator.state import CloseEmulator


def create_app(config: CloseEmulatorConfig | None = None, *, served: bool = False) -> FastAPI:
    """A fresh emulated Close; ``app.state.emulator`` is its :class:`CloseEmulator`."""
    return create_emulator_app(
        CloseEmulator(config or CloseEmulatorConfig(), served=served),
        title="Close emulator (crmsync)",
        error_handlers=(
            (CloseError, handle_close_error),
            (RequestValidationError, handle_validation_error),
        ),
        unrouted=unrouted,
        routers=(
            routes_oauth.router,
            routes_events.router,
            routes_records.router,
            routes_org.router,
            routes_activities.router,
            routes_notes.router,
            routes_opportunities.router,
            routes_logged.router,
        ),
        control_router=routes_control.router,
    )
