"""What the client raises when the API refuses or fails a request.

::

    CrmsyncError                 any answer that is not a success: status_code, message
    ├── ClientError              4xx: the request must change before it is sent again
    │   ├── BadRequest           400: the body could not be read
    │   ├── Unauthorized         401: missing or invalid host API key
    │   ├── Forbidden            403: the acting user (``changed_by``) may read, not change
    │   ├── NotFound             404: the organisation, or what the path names, is unknown
    │   ├── Conflict             409: conflicts with the current state; nothing was done
    │   ├── PayloadTooLarge      413: the body is over the service's ``max_body_bytes``
    │   ├── InvalidInput         422: invalid input, nothing written; ``issues`` per field
    │   └── RateLimited          429: ``retry_after`` seconds, when the service said
    └── ServerError              5xx: the service or the CRM behind it failed
        ├── CrmFailed            502: the CRM call failed
        └── Unavailable          503: the database is unavailable

Network failures (no answer at all) are httpx's own ``httpx.TransportError``, raised as is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = [
    "BadRequest",
    "ClientError",
    "Conflict",
    "CrmFailed",
    "CrmsyncError",
    "FieldIssue",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServerError",
    "Unauthorized",
    "Unavailable",
    "error_for",
]


@dataclass(frozen=True)
class FieldIssue:
    """One reason a 422 gives: where (``("body", "emails", 0)``) and why."""

    loc: tuple[str | int, ...]
    msg: str
    type: str

    def __str__(self) -> str:
        return f"{'.'.join(str(part) for part in self.loc)}: {self.msg}"


class CrmsyncError(Exception):
    """The API answered with an error: its HTTP status and its message, in words."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        issues: tuple[FieldIssue, ...] = (),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message
        self.issues = issues
        self.retry_after = retry_after


class ClientError(CrmsyncError):
    """A 4xx: sending the same request again gets the same answer (429 aside)."""


class BadRequest(ClientError):
    """400: the request body could not be read."""


class Unauthorized(ClientError):
    """401: the host API key is missing or unknown."""


class Forbidden(ClientError):
    """403: the org user named as making the change is not an admin of the org."""


class NotFound(ClientError):
    """404: the organisation, or what the path names, does not exist."""


class Conflict(ClientError):
    """409: the request conflicts with the current state; nothing was done."""


class PayloadTooLarge(ClientError):
    """413: the body is over the service's ``max_body_bytes``: send less per request."""


class InvalidInput(ClientError):
    """422: invalid input, nothing was written; ``issues`` names each bad field, if any."""


class RateLimited(ClientError):
    """429: too many requests; ``retry_after`` is the wait in seconds, when given."""


class ServerError(CrmsyncError):
    """A 5xx: the service, or the CRM behind it, failed; the request may succeed later."""


class CrmFailed(ServerError):
    """502: the call crmsync made to the CRM failed."""


class Unavailable(ServerError):
    """503: the service cannot reach its database."""


_BY_STATUS: dict[int, type[CrmsyncError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidInput,
    429: RateLimited,
    502: CrmFailed,
    503: Unavailable,
}


def error_for(
    status_code: int, detail: object, retry_after_header: str | None = None
) -> CrmsyncError:
    """The error for an answer: its class from the status, its message from ``detail`` (the
    API's ``{"detail": ...}``: words, or a 422's list of field issues)."""
    kind = _BY_STATUS.get(status_code)
    if kind is None:
        kind = ServerError if status_code >= 500 else ClientError
    issues = _issues(detail)
    message = "; ".join(str(i) for i in issues) if issues else _words(detail)
    return kind(status_code, message, issues=issues, retry_after=_retry_after(retry_after_header))


def _issues(detail: object) -> tuple[FieldIssue, ...]:
    if not isinstance(detail, list):
        return ()
    found: list[FieldIssue] = []
    for item in detail:
        if isinstance(item, dict):
            loc = item.get("loc", [])
            found.append(
                FieldIssue(
                    loc=tuple(p if isinstance(p, int) else str(p) for p in loc)
                    if isinstance(loc, list)
                    else (),
                    msg=str(item.get("msg", "")),
                    type=str(item.get("type", "")),
                )
            )
    return tuple(found)


def _words(detail: object) -> str:
    if isinstance(detail, str):
        return detail
    return "no message" if detail is None else str(detail)


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in either form (seconds, or an HTTP date), as seconds from now."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
