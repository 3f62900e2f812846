"""Close's error bodies, so connectors classify emulator errors exactly like real ones.

* 400: ``{"errors": [...], "field-errors": {...}}`` (nested field errors follow the payload,
  e.g. ``{"contacts": {"0": {"emails": ...}}}``: the nesting is our best reading of Close);
* 401 / 404: ``{"error": "..."}`` (exact wording unconfirmed), also for unknown routes (404)
  and methods (405), worded as Werkzeug words them (Close's API is a Flask app, as far as its
  open-source libraries tell; unconfirmed);
* 429: ``{"error": {"rate_reset": seconds, "message", "rate_limit", "rate_window",
  "rate_limit_type"}}`` plus the ``RateLimit`` header;
* OAuth endpoints: RFC 6749 ``{"error", "error_description"}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from crmsync.emulation import CONTROL_PREFIX, RateDecision


class CloseError(Exception):
    """An error Close would answer with; routes raise it, the app renders it."""

    def __init__(self, status_code: int, body: Mapping[str, Any]) -> None:
        super().__init__(str(body))
        self.status_code = status_code
        self.body = dict(body)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status_code)


def invalid(
    errors: Sequence[str] = (), field_errors: Mapping[str, Any] | None = None
) -> CloseError:
    return CloseError(400, {"errors": list(errors), "field-errors": dict(field_errors or {})})


def not_found(kind: str) -> CloseError:
    return CloseError(404, {"error": f"{kind} not found."})


def unauthorized() -> JSONResponse:
    body = {"error": "The access token or API key is missing, invalid or expired."}
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": 'Bearer realm="api"'})


def rate_limit_header(decision: RateDecision) -> dict[str, str]:
    """``RateLimit: limit=20, remaining=7, reset=1`` (reset in whole seconds, per the RFC)."""
    reset = math.ceil(decision.reset_seconds) if decision.reset_seconds > 0 else 0
    return {"RateLimit": f"limit={decision.limit}, remaining={decision.remaining}, reset={reset}"}


def rate_limited(decision: RateDecision, limit_type: str, group: str) -> JSONResponse:
    rate_reset = round(max(decision.reset_seconds, 0.001), 6)
    body = {
        "error": {
            "message": "API call count exceeded for this period",
            "rate_reset": rate_reset,
            "rate_limit": decision.limit,
            "rate_window": decision.interval_seconds,
            "rate_limit_type": limit_type,
            "endpoint_group": group,
        }
    }
    return JSONResponse(body, status_code=429, headers=rate_limit_header(decision))


def server_error(status_code: int) -> JSONResponse:
    message = "Internal server error." if status_code == 500 else "Service temporarily unavailable."
    return JSONResponse({"error": message}, status_code=status_code)


def oauth_error(error: str, description: str, status_code: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code)


async def handle_close_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, CloseError):
        raise exc
    return exc.response()


NO_ROUTE = {
    404: "The requested URL was not found on the server. If you entered the URL manually "
    "please check your spelling and try again.",
    405: "The method is not allowed for the requested URL.",
}


def unrouted(request: Request, exc: StarletteHTTPException) -> Response:
    """No such route (404) or not this method (405), in Close's ``{"error"}`` shape."""
    return JSONResponse({"error": NO_ROUTE[exc.status_code]}, exc.status_code, headers=exc.headers)


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    """A malformed body or parameter gets Close's 400; control routes keep FastAPI's 422."""
    if not isinstance(exc, RequestValidationError):
        raise exc
    if request.url.path.startswith(CONTROL_PREFIX):
        return JSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)
    field_errors: dict[str, str] = {}
    errors: list[str] = []
    for problem in exc.errors():
        where = [str(part) for part in problem.get("loc", ()) if part not in ("body", "query")]
        if where:
            field_errors[".".join(where)] = str(problem.get("msg", "Invalid value."))
        else:
            errors.append(f"Invalid request: {problem.get('msg', 'invalid')}")
    return invalid(errors, field_errors).response()
