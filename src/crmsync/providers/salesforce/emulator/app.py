"""``create_app``: the Salesforce emulator as one FastAPI app (login host and instance alike).

In-process: ``httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app()))``. Served:
``uvicorn.run(create_app(served=True))``, which is what ``crmsync emulate salesforce`` runs.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from crmsync.emulation.app import create_emulator_app
from crmsync.providers.salesforce.emulator import (
    recordpage,
    routes_bulk,
    routes_control,
    routes_oauth,
    routes_query,
    routes_replication,
    routes_sobjects,
    routes_tooling,
)
from crmsync.providers.salesforce.emulator.config import SalesforceEmulatorConfig
from crmsync.providers.salesforce.emulator.errors import (
    RecordFailure,
    SalesforceError,
    handle_salesforce_error,
    handle_validation_error,
    unrouted,
)
from crmsync.providers.salesforce.emulator.state import SalesforceEmulator


def create_app(config: SalesforceEmulatorConfig | None = None, *, served: bool = False) -> FastAPI:
    """A fresh emulated org; ``app.state.emulator`` is its :class:`SalesforceEmulator`."""
    return create_emulator_app(
        SalesforceEmulator(config or SalesforceEmulatorConfig(), served=served),
        title="Salesforce emulator (crmsync)",
        error_handlers=(
            (SalesforceError, handle_salesforce_error),
            (RecordFailure, handle_salesforce_error),
            (RequestValidationError, handle_validation_error),
        ),
        unrouted=unrouted,
        routers=(
            routes_oauth.router,
            routes_bulk.router,
            routes_query.router,
            routes_tooling.router,
            routes_replication.router,  # before "/sobjects/{sobject}/{record_id}" takes "updated"
            routes_sobjects.router,
            recordpage.router,  # the record page the admin UI links to
        ),
        control_router=routes_control.router,
    )
