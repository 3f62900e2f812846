"""``create_app``: the Salesforce emulator as one FastAPI app (login host and instance alike).

In-process: ``httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app()))``. Served:
``uvicorn.run(create_app(served=True))``, which is what ``crmsync emulate salesforce`` runs.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from crmsync.emulation import create_control_router, install_policy
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
    handle_unrouted,
    handle_validation_error,
)
from crmsync.providers.salesforce.emulator.state import SalesforceEmulator


def create_app(config: SalesforceEmulatorConfig | None = None, *, served: bool = False) -> FastAPI:
    """A fresh emulated org; ``app.state.emulator`` is its :class:`SalesforceEmulator`."""
    emulator = SalesforceEmulator(config or SalesforceEmulatorConfig(), served=served)
    app = FastAPI(
        title="Salesforce emulator (crmsync)",
        docs_url="/_emulator/docs",
        redoc_url=None,
        openapi_url="/_emulator/openapi.json",
    )
    app.state.emulator = emulator
    install_policy(app, emulator.policy)
    app.add_exception_handler(SalesforceError, handle_salesforce_error)
    app.add_exception_handler(RecordFailure, handle_salesforce_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(HTTPException, handle_unrouted)
    for module in (
        routes_oauth,
        routes_bulk,
        routes_query,
        routes_tooling,
        routes_replication,  # before "/sobjects/{sobject}/{record_id}" takes "updated"
        routes_sobjects,
    ):
        app.include_router(module.router)
    app.include_router(recordpage.router)  # the record page the admin UI links to
    app.include_router(create_control_router(emulator.controls))
    app.include_router(routes_control.router)
    return app
