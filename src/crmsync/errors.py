"""One error tree, classified by one table.

::

    CrmSyncError
    ├── InputError                bad input from a caller: 4xx, nothing written
    │   ├── NotFound              404
    │   ├── Forbidden             403: the acting user may not do this (a member, not an admin)
    │   ├── Conflict              409
    │   └── SignatureError        401: a webhook call is not the CRM's (forged, stale)
    └── ConnectorError            a CRM call went wrong; carries a Resolution
        ├── SetupRequired         the CRM lacks something only its admin can add: pause
        ├── TransientError        retry with backoff (5xx, timeouts, resets); or deferred
        │   └── RateLimited       wait for the window the CRM named, then retry
        ├── TokenExpired          refresh the access token, then retry once
        ├── ReconnectRequired     refresh refused: pause the connection, keep its queue
        └── RecordRejected        the CRM refused the record: failed with a reason

Every CRM response or transport exception becomes an :class:`ApiProblem` (a transport
exception through :func:`transport_problem`); :func:`classify` turns it into a
:class:`Resolution` by reading the provider's own rules, then :data:`TABLE`.
The retry loop, the queue and the operation log all read that same resolution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from crmsync.domain.outcomes import Action, Resolution


@dataclass(frozen=True)
class ApiProblem:
    """What went wrong with one CRM call, in provider-neutral terms."""

    status: int | None  # None for transport errors
    code: str | None = None  # the provider's own error code or category
    message: str = ""
    retry_after: float | None = None
    exception: type[BaseException] | None = None


@dataclass(frozen=True)
class Rule:
    """One row of the table: every given condition must hold."""

    action: Action
    reason: str
    status: int | tuple[int, int] | None = None  # exact, or inclusive range
    code: str | None = None
    exception: type[BaseException] | None = None
    extras: dict[str, str] = field(default_factory=dict)

    def matches(self, problem: ApiProblem) -> bool:
        if self.exception is not None and not (
            problem.exception is not None and issubclass(problem.exception, self.exception)
        ):
            return False
        if isinstance(self.status, int) and problem.status != self.status:
            return False
        if isinstance(self.status, tuple) and not (
            problem.status is not None and self.status[0] <= problem.status <= self.status[1]
        ):
            return False
        return self.code is None or problem.code == self.code


TABLE: tuple[Rule, ...] = (
    Rule(Action.RETRY, "the CRM did not answer in time", exception=httpx.TimeoutException),
    Rule(Action.RETRY, "the connection to the CRM failed", exception=httpx.TransportError),
    Rule(Action.RATE_LIMITED, "the CRM's rate limit was reached", status=429),
    Rule(Action.REFRESH_TOKEN, "the access token expired", status=401),
    Rule(Action.RETRY, "the CRM had a server error", status=(500, 599)),
    Rule(Action.RETRY, "the CRM asked to try again later", status=408),
    Rule(Action.FAIL, "the CRM refused the request", status=(400, 499)),
)
"""Provider-neutral rules; a provider's ``error_rules`` are read before these."""


def transport_problem(exc: httpx.TransportError) -> ApiProblem:
    """A call that got no answer (timeout, reset, refused): a problem without a status, which
    a provider's rule may name by its exception (e.g. a read timeout on a create)."""
    return ApiProblem(None, message=str(exc), exception=type(exc))


def classify(problem: ApiProblem, provider_rules: Sequence[Rule] = ()) -> Resolution:
    """The first rule that matches: the provider's own, then the shared table."""
    for rule in (*provider_rules, *TABLE):
        if rule.matches(problem):
            detail = f": {problem.message}" if problem.message else ""
            return Resolution(
                action=rule.action,
                reason=f"{rule.reason}{detail}",
                retry_after=problem.retry_after,
                status_code=problem.status,
                code=problem.code,
            )
    return Resolution(Action.FAIL, f"unexpected answer from the CRM: {problem.message}")


class CrmSyncError(Exception):
    """Root of every error crmsync raises on purpose."""


class InputError(CrmSyncError):
    status_code = 422


class NotFound(InputError):
    status_code = 404


class Forbidden(InputError):
    """The acting user may read this but not change it (a member, not an admin)."""

    status_code = 403


class Conflict(InputError):
    status_code = 409


class SignatureError(InputError):
    """A webhook call whose signature does not check out: refused, nothing written."""

    status_code = 401


class ConnectorError(CrmSyncError):
    def __init__(self, resolution: Resolution) -> None:
        super().__init__(resolution.reason)
        self.resolution = resolution


class SetupRequired(ConnectorError):
    def __init__(self, message: str, missing: Sequence[str] = ()) -> None:
        super().__init__(Resolution(Action.SETUP_REQUIRED, message))
        self.missing = list(missing)


class TransientError(ConnectorError):
    pass


class RateLimited(TransientError):
    pass


class TokenExpired(ConnectorError):
    pass


class ReconnectRequired(ConnectorError):
    pass


class RecordRejected(ConnectorError):
    pass


_EXCEPTION_FOR: dict[Action, Callable[[Resolution], ConnectorError]] = {
    Action.RETRY: TransientError,
    Action.RATE_LIMITED: RateLimited,
    Action.REFRESH_TOKEN: TokenExpired,
    Action.RECONNECT: ReconnectRequired,
    Action.FAIL: RecordRejected,
    Action.SKIP: RecordRejected,
    Action.SETUP_REQUIRED: lambda resolution: SetupRequired(resolution.reason),
    Action.DEFER: TransientError,
}


def error_for(resolution: Resolution) -> ConnectorError:
    return _EXCEPTION_FOR[resolution.action](resolution)


def reconnect_required(reason: str) -> ReconnectRequired:
    return ReconnectRequired(Resolution(Action.RECONNECT, reason))
