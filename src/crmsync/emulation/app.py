"""The FastAPI app every emulator is: docs under ``/_emulator/``, the policy, the CRM's error
handlers and routers, then the shared and the CRM's own control routes.

The four emulators assembled the same app line by line; here it is once, and each CRM passes
what is its own (title, routers in the order they must match, error answers).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException
from starlette.responses import Response

from crmsync.emulation.control import CONTROL_PREFIX, EmulatorControls, create_control_router
from crmsync.emulation.routing import EmulationPolicy, install_policy

ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]
UnroutedAnswer = Callable[[Request, HTTPException], Response]
"""The CRM's answer to a path no route serves (404) or a method it does not take (405)."""

UNROUTED_STATUSES = (404, 405)


class AssembledEmulator(Protocol):
    """An emulator's state as its app needs it: the policy its API routes run through and
    the pieces the ``/_emulator/`` controls act on."""

    @property
    def policy(self) -> EmulationPolicy: ...

    @property
    def controls(self) -> EmulatorControls: ...


def unrouted_handler(answer: UnroutedAnswer) -> ExceptionHandler:
    """Route-level 404/405s in the CRM's error shape (``answer``); control routes, and every
    other ``HTTPException``, keep FastAPI's ``{"detail": ...}``."""

    async def handle_unrouted(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, HTTPException):
            raise exc
        if request.url.path.startswith(CONTROL_PREFIX) or exc.status_code not in UNROUTED_STATUSES:
            return await http_exception_handler(request, exc)
        return answer(request, exc)

    return handle_unrouted


def create_emulator_app(
    emulator: AssembledEmulator,
    *,
    title: str,
    error_handlers: Sequence[tuple[type[Exception], ExceptionHandler]],
    unrouted: UnroutedAnswer,
    routers: Sequence[APIRouter],
    control_router: APIRouter,
) -> FastAPI:
    """One emulator's app; ``app.state.emulator`` is ``emulator``. ``routers`` are included
    in order (the first matching route wins), the control routes after them."""
    app = FastAPI(
        title=title,
        docs_url=f"{CONTROL_PREFIX}/docs",
        redoc_url=None,
        openapi_url=f"{CONTROL_PREFIX}/openapi.json",
    )
    app.state.emulator = emulator
    install_policy(app, emulator.policy)
    for exc_class, handler in error_handlers:
        app.add_exception_handler(exc_class, handler)
    app.add_exception_handler(HTTPException, unrouted_handler(unrouted))
    for router in routers:
        app.include_router(router)
    app.include_router(create_control_router(emulator.controls))
    app.include_router(control_router)
    return app
