"""A FastAPI route class that runs every emulated call through the same pipeline.

For each request: count it by route template, draw one fault, add latency, answer a status fault
or fail before the write, let the provider admit the request (auth, rate limits), run the handler
(the write commits), then maybe lose the response. Providers supply an :class:`EmulationPolicy`
with :func:`install_policy`; control routes use a plain router and skip all of this.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from crmsync.emulation.counters import RequestCounters
from crmsync.emulation.faults import FaultInjector, FaultKind

_POLICY_ATTRIBUTE = "emulation_policy"


@dataclass(frozen=True)
class RouteInfo:
    """The matched route: method and path template, e.g. ``GET /crm/v3/objects/contacts/{id}``."""

    method: str
    template: str


class EmulationPolicy(Protocol):
    """What a provider decides for its routes."""

    @property
    def counters(self) -> RequestCounters: ...

    @property
    def faults(self) -> FaultInjector: ...

    def fault_kinds(self, route: RouteInfo) -> frozenset[FaultKind]:
        """Which faults may hit this route (empty: none)."""
        ...

    def fault_response(self, kind: FaultKind, route: RouteInfo) -> Response:
        """The provider's error response for a status fault (429, 500 or 503)."""
        ...

    def admit(self, request: Request, route: RouteInfo) -> Response | Mapping[str, str]:
        """A rejection (e.g. 401, 429), or the headers to add to the handler's response."""
        ...


def install_policy(app: FastAPI, policy: EmulationPolicy) -> None:
    setattr(app.state, _POLICY_ATTRIBUTE, policy)


def _policy(request: Request) -> EmulationPolicy:
    policy: EmulationPolicy = getattr(request.app.state, _POLICY_ATTRIBUTE)
    return policy


async def _handled(request: Request, exc: Exception) -> Response:
    """Render ``exc`` with the app's exception handler now, so the response still gets the
    admitted headers and can still be lost; unhandled exceptions propagate."""
    handlers: Mapping[object, Callable[[Request, Exception], object]]
    handlers = request.app.exception_handlers
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            result = handler(request, exc)
            if inspect.isawaitable(result):
                result = await result
            if not isinstance(result, Response):
                raise TypeError(f"exception handler for {cls.__name__} returned {result!r}")
            return result
    raise exc


class EmulatedRoute(APIRoute):
    """Use as ``APIRouter(route_class=EmulatedRoute)`` for a provider's API routes."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        template = self.path_format

        async def emulated_handler(request: Request) -> Response:
            policy = _policy(request)
            route = RouteInfo(request.method, template)
            policy.counters.increment(route.method, route.template)
            decision = policy.faults.decide(policy.fault_kinds(route))
            await decision.apply_latency()
            if decision.kind is not None and decision.status_code is not None:
                return policy.fault_response(decision.kind, route)
            dropped = await decision.fail_before_write()
            if dropped is not None:
                return dropped
            admitted = policy.admit(request, route)
            if isinstance(admitted, Response):
                return await decision.lose_response(admitted)
            try:
                response = await handle(request)
            except Exception as exc:
                response = await _handled(request, exc)
            response.headers.update(admitted)
            return await decision.lose_response(response)

        return emulated_handler
