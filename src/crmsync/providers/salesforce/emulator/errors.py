"""Salesforce's error bodies, so connectors classify emulator errors exactly like real ones.

REST calls answer errors as a JSON array ``[{"message", "errorCode", "fields"?}]``; inside a
collection's per-record results each error is ``{"statusCode", "message", "fields"}``. OAuth
endpoints answer ``{"error", "error_description"}``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response

from crmsync.emulation import CONTROL_PREFIX

NOT_FOUND_MESSAGE = "The requested resource does not exist"


@dataclass(frozen=True)
class ItemError:
    """One error of one record: a collection result entry, or a single call's 400 body."""

    code: str
    message: str
    fields: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def result_json(self) -> dict[str, Any]:
        return {
            "statusCode": self.code,
            "message": self.message,
            "fields": list(self.fields),
            **self.extra,
        }

    def body_json(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "errorCode": self.code,
            "fields": list(self.fields),
            **self.extra,
        }

    def bulk_text(self) -> str:
        """The ``sf__Error`` column of a Bulk API 2.0 failed-results row."""
        return f"{self.code}:{self.message}:{','.join(self.fields)} --"


class RecordFailure(Exception):
    """A record the org refused; collections report it per record, single calls as 400."""

    def __init__(self, errors: Sequence[ItemError]) -> None:
        super().__init__(errors[0].message if errors else "record refused")
        self.errors = list(errors)


class SalesforceError(Exception):
    """A whole-request error: rendered as Salesforce's JSON error array."""

    def __init__(
        self, status_code: int, code: str, message: str, fields: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.fields = tuple(fields)

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        body: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields:
            body["fields"] = list(self.fields)
        return JSONResponse([body], status_code=self.status_code, headers=headers)


def not_found() -> SalesforceError:
    return SalesforceError(404, "NOT_FOUND", NOT_FOUND_MESSAGE)


def is_deleted() -> SalesforceError:
    """A record in the recycle bin, read or deleted again by id."""
    return SalesforceError(404, "ENTITY_IS_DELETED", "entity is deleted")


def invalid_session() -> JSONResponse:
    return SalesforceError(401, "INVALID_SESSION_ID", "Session expired or invalid").response(
        headers={"WWW-Authenticate": 'Token realm="Salesforce"'}
    )


def request_limit_exceeded(message: str, headers: dict[str, str]) -> JSONResponse:
    """403 for the daily allocation (``TotalRequests``) or concurrent long requests."""
    return SalesforceError(403, "REQUEST_LIMIT_EXCEEDED", message).response(headers=headers)


def server_error(status_code: int) -> JSONResponse:
    """Injected 500/503. The 500 body carries an ErrorId, as Salesforce's do (guessed shape)."""
    if status_code == 500:
        error_id = f"{random.randint(10**8, 10**9 - 1)}-{random.randint(1000, 99999)}"
        message = (
            "An unexpected error occurred. Please include this ErrorId if you contact "
            f"support: {error_id} (-{random.randint(10**8, 10**9)})"
        )
        return SalesforceError(500, "UNKNOWN_EXCEPTION", message).response()
    return SalesforceError(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable").response()


def oauth_error(error: str, description: str, status_code: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code)


async def handle_salesforce_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, SalesforceError):
        return exc.response()
    if isinstance(exc, RecordFailure):
        return JSONResponse([e.body_json() for e in exc.errors], status_code=400)
    raise exc


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    """Malformed bodies get Salesforce's ``JSON_PARSER_ERROR``; control routes keep 422."""
    if not isinstance(exc, RequestValidationError):
        raise exc
    if request.url.path.startswith(CONTROL_PREFIX):
        return JSONResponse({"detail": str(exc.errors())}, status_code=422)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    message = f"Cannot deserialize instance: {where}: {first.get('msg', 'invalid')}"
    return SalesforceError(400, "JSON_PARSER_ERROR", message).response()


def unrouted(request: Request, exc: HTTPException) -> Response:
    """A path no route serves is Salesforce's 404 ``NOT_FOUND``, a method a path does not take
    its 405 ``METHOD_NOT_ALLOWED`` naming the allowed ones."""
    if exc.status_code == 404:
        return not_found().response()
    allowed = (exc.headers or {}).get("Allow", "")
    message = f"HTTP Method '{request.method}' not allowed. Allowed are {allowed}"
    return SalesforceError(405, "METHOD_NOT_ALLOWED", message).response(headers={"Allow": allowed})
