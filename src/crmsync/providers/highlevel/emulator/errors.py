"""HighLevel's error bodies (NestJS style) and the exception the emulator raises for them.

``{"statusCode": 400, "message": "..."}``; 422 carries a list of messages and ``error``;
the duplicate-contact 400 carries ``meta``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

DUPLICATE_MESSAGE = "This location does not allow duplicated contacts."
INVALID_TOKEN = "Invalid token: access token is invalid"
_ERROR_NAMES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class HighLevelError(Exception):
    def __init__(
        self,
        status: int,
        message: str | Sequence[str],
        *,
        error: str | None = None,
        meta: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message if isinstance(message, str) else "; ".join(message))
        self.status = status
        self.message = message
        self.error = error
        self.meta = meta
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        message = self.message if isinstance(self.message, str) else list(self.message)
        body: dict[str, Any] = {"statusCode": self.status, "message": message}
        if self.error:
            body["error"] = self.error
        if self.meta is not None:
            body["meta"] = dict(self.meta)
        return body

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def bad_request(message: str) -> HighLevelError:
    return HighLevelError(400, message)


def unprocessable(messages: Sequence[str]) -> HighLevelError:
    return HighLevelError(422, list(messages), error=_ERROR_NAMES[422])


def unauthorized(message: str = INVALID_TOKEN) -> HighLevelError:
    return HighLevelError(401, message, error=_ERROR_NAMES[401])


def forbidden_location() -> HighLevelError:
    # Message unconfirmed; HighLevel answers 403 when a token reaches another location.
    return HighLevelError(
        403, "The token does not have access to this location.", error=_ERROR_NAMES[403]
    )


def contact_not_found() -> HighLevelError:
    return HighLevelError(400, "Contact not found")


def duplicate_contact(contact_id: str, contact_name: str, field: str) -> HighLevelError:
    return HighLevelError(
        400,
        DUPLICATE_MESSAGE,
        meta={"contactName": contact_name, "contactId": contact_id, "matchingField": field},
    )


def status_error(status: int, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """A bare error answer (429, 500, 503) as the API gateway sends it."""
    return HighLevelError(status, _ERROR_NAMES[status], headers=headers).response()


async def handle_highlevel_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HighLevelError)
    return exc.response()


async def handle_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own validation (query parameters) in HighLevel's 422 shape."""
    assert isinstance(exc, RequestValidationError)
    messages = [
        f"{'.'.join(str(p) for p in error['loc'][1:])} {error['msg']}".strip()
        for error in exc.errors()
    ]
    return unprocessable(messages).response()


def unrouted(request: Request, exc: StarletteHTTPException) -> Response:
    """No route (or not this method): NestJS's own answer, ``{"statusCode": 404, "message":
    "Cannot GET /path", "error": "Not Found"}``; Express answers a wrong method the same way,
    with no 405."""
    message = f"Cannot {request.method} {request.url.path}"
    return HighLevelError(404, message, error=_ERROR_NAMES[404]).response()
