"""Routes CRM hosts to in-process ASGI apps, so connectors keep the real base URLs."""

from __future__ import annotations

from typing import Any

import httpx


class HostRouter(httpx.AsyncBaseTransport):
    def __init__(self, routes: dict[str, Any] | None = None) -> None:
        self.routes: dict[str, httpx.ASGITransport] = {}
        for host, app in (routes or {}).items():
            self.add(host, app)

    def add(self, host: str, app: Any) -> None:
        self.routes[host] = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.routes.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError(
                f"no route to {request.url.host} in this test", request=request
            )
        return await transport.handle_async_request(request)
