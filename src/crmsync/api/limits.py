"""Request bodies over ``max_body_bytes`` are refused with a 413, before they are parsed.

A declared ``Content-Length`` over the limit is refused before any route runs: otherwise a
route that reads no body (``DELETE …/connection``) would do its work first. A body sent
without one (chunked) is counted as it arrives: once over the limit, reading it raises
:class:`BodyTooLarge`, an ``HTTPException`` that FastAPI's body parsing and the admin UI's
input check pass on, so the answer is the 413 and the route never runs.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def too_large(max_bytes: int) -> str:
    return f"the request body is larger than {max_bytes} bytes; send less per request"


class BodyTooLarge(HTTPException):
    """Raised while the body is read, once more than the limit has arrived."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, too_large(max_bytes))


class BodyLimit:
    """ASGI middleware: at most ``max_bytes`` of request body, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:  # read after answering (a streaming route): nothing left to say
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"detail": too_large(self.max_bytes)}, status_code=413)
        await response(scope, receive, send)


def _declared_length(scope: Scope) -> int:
    """The declared body length; 0 when absent or unreadable (the bytes are counted then).
    Twenty digits or more is more than any limit (and ``int`` refuses thousands of them)."""
    value = Headers(scope=scope).get("content-length", "").strip()
    if not (value.isascii() and value.isdigit()):
        return 0
    return int(value) if len(value) < 20 else 10**20
