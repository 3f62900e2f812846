"""HubSpot's error bodies, so connectors classify emulator errors exactly like real ones.

Shape: ``{"status": "error", "message", "correlationId", "category", "errors"?, "context"?}``;
inside a 207 batch response each failed item is the same object without ``correlationId``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response

from crmsync.emulation import CONTROL_PREFIX

AUTH_DOCS = "https://developers.hubspot.com/docs/methods/auth/oauth-overview"
SCOPES_DOCS = "https://developers.hubspot.com/scopes"


def correlation_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class ValueProblem:
    """One invalid property value in a write, e.g. ``PROPERTY_DOESNT_EXIST``."""

    name: str
    code: str
    message: str


class HubSpotError(Exception):
    """An error HubSpot would answer with; routes raise it, the app renders it."""

    def __init__(
        self,
        status_code: int,
        message: str,
        category: str,
        *,
        errors: Sequence[Mapping[str, Any]] = (),
        context: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.category = category
        self.errors = list(errors)
        self.context = dict(context or {})

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": correlation_id(),
            "category": self.category,
        }
        if self.errors:
            body["errors"] = self.errors
        if self.context:
            body["context"] = self.context
        return body

    def item(self, context: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        """This error as one entry of a 207 response's ``errors``."""
        item: dict[str, Any] = {
            "status": "error",
            "category": self.category,
            "message": self.message,
            "context": {**self.context, **context},
        }
        if self.errors:
            item["errors"] = self.errors
        return item

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status_code)


def not_found() -> HubSpotError:
    return HubSpotError(404, "resource not found", "OBJECT_NOT_FOUND")


def validation_error(message: str, *, errors: Sequence[Mapping[str, Any]] = ()) -> HubSpotError:
    return HubSpotError(400, message, "VALIDATION_ERROR", errors=errors)


def conflict(message: str, existing_id: str | None = None) -> HubSpotError:
    context = {"existingId": [existing_id]} if existing_id else None
    return HubSpotError(409, message, "CONFLICT", context=context)


def invalid_values(problems: Sequence[ValueProblem]) -> HubSpotError:
    """HubSpot's 400 for bad property values: a JSON list in the message, one error each."""
    details = [
        {
            "isValid": False,
            "message": p.message,
            "error": p.code,
            "name": p.name,
            "localizedErrorMessage": p.message,
        }
        for p in problems
    ]
    return validation_error(
        f"Property values were not valid: {json.dumps(details)}",
        errors=[
            {"message": p.message, "code": p.code, "context": {"propertyName": [p.name]}}
            for p in problems
        ],
    )


def unauthorized(*, expired_seconds_ago: int | None) -> JSONResponse:
    if expired_seconds_ago is None:
        message = (
            "Authentication credentials not found. This API supports OAuth 2.0 authentication "
            f"and you can find more details at {AUTH_DOCS}"
        )
        category = "INVALID_AUTHENTICATION"
    else:
        message = (
            f"The OAuth token used to make this call expired {expired_seconds_ago} second(s) ago."
        )
        category = "EXPIRED_AUTHENTICATION"
    return HubSpotError(401, message, category).response()


def missing_scopes(required: Sequence[str]) -> JSONResponse:
    body = {
        "status": "error",
        "message": (
            "This app hasn't been granted all required scopes to make this call. "
            f"Read more about required scopes here: {SCOPES_DOCS}."
        ),
        "correlationId": correlation_id(),
        "errors": [
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": list(required)},
            }
        ],
        "links": {"scopes": SCOPES_DOCS},
        "category": "MISSING_SCOPES",
    }
    return JSONResponse(body, status_code=403)


def rate_limited(
    *, message: str, policy_name: str, group_name: str, headers: Mapping[str, str]
) -> JSONResponse:
    body = {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy_name,
        "groupName": group_name,
    }
    return JSONResponse(body, status_code=429, headers=dict(headers))


def server_error(status_code: int) -> JSONResponse:
    """An injected 500/503 (HubSpot's exact 5xx bodies vary; this is the common JSON form)."""
    message = "internal error" if status_code == 500 else "Service Unavailable"
    category = "INTERNAL_ERROR" if status_code == 500 else "SERVICE_UNAVAILABLE"
    return HubSpotError(status_code, message, category).response()


def oauth_error(status: str, message: str) -> JSONResponse:
    """The OAuth endpoints' own format: ``{"status": "BAD_AUTH_CODE", "message": ...}``."""
    body = {"status": status, "message": message, "correlationId": correlation_id()}
    return JSONResponse(body, status_code=400)


async def handle_hubspot_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HubSpotError):
        raise exc
    return exc.response()


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    """Malformed request bodies get HubSpot's 400; control routes keep FastAPI's 422."""
    if not isinstance(exc, RequestValidationError):
        raise exc
    if request.url.path.startswith(CONTROL_PREFIX):
        return JSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    message = f"Invalid input JSON: {where}: {first.get('msg', 'invalid')}".replace(": :", ":")
    return validation_error(message).response()


def unrouted(request: Request, exc: HTTPException) -> Response:
    """A path no route serves answers HubSpot's JSON 404 (``OBJECT_NOT_FOUND``), not FastAPI's
    ``{"detail": ...}``; a method a path does not take, a 405 in the same shape (its category
    is a guess: HubSpot documents none)."""
    if exc.status_code == 404:
        return not_found().response()
    response = HubSpotError(405, "HTTP 405 Method Not Allowed", "METHOD_NOT_ALLOWED").response()
    response.headers["Allow"] = (exc.headers or {}).get("Allow", "")
    return response


def unique_conflict(prop: str, value: str, existing_id: str) -> HubSpotError:
    if prop == "email":
        message = f"Contact already exists. Existing ID: {existing_id}"
    else:
        message = (
            f"A contact with the unique property {prop}={value!r} already exists. "
            f"Existing ID: {existing_id}"
        )
    return HubSpotError(409, message, "CONFLICT", context={"existingId": [existing_id]})
