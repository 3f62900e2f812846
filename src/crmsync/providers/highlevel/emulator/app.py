"""``create_app``: the HighLevel emulator as one FastAPI app.

One app answers both hosts HighLevel uses (``marketplace.gohighlevel.com`` for the
chooselocation page, ``services.leadconnectorhq.com`` for the API and tokens), in-process
through ``httpx.ASGITransport`` or served by uvicorn (``crmsync emulate highlevel``).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from crmsync.emulation.app import create_emulator_app
from crmsync.providers.highlevel.emulator import (
    recordpage,
    routes_contacts,
    routes_control,
    routes_locations,
    routes_notes,
    routes_oauth,
)
from crmsync.providers.highlevel.emulator.config import HighLevelEmulatorConfig
from crmsync.providers.highlevel.emulator.errors import (
    HighLevelError,
    handle_highlevel_error,
    handle_validation_error,
    unrouted,
)
from crmsync.providers.highlevel.emulator.state import HighLevelEmulator


def create_app(config: HighLevelEmulatorConfig | None = None, *, served: bool = False) -> FastAPI:
    """A fresh emulated agency; ``app.state.emulator`` is its :class:`HighLevelEmulator`."""
    return create_emulator_app(
        HighLevelEmulator(config or HighLevelEmulatorConfig(), served=served),
        title="HighLevel emulator (crmsync)",
        error_handlers=(
            (HighLevelError, handle_highlevel_error),
            (RequestValidationError, handle_validation_error),
        ),
        unrouted=unrouted,
        routers=(
            routes_oauth.router,
            routes_contacts.router,
            routes_notes.router,
            routes_locations.router,
            recordpage.router,  # the record page the admin UI links to
        ),
        control_router=routes_control.router,
    )
