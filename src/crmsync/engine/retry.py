"""What each outcome does: one table from the error table's ``Action`` to its consequences.

``errors.classify`` says *what happened* (an ``Action``); this table says *what the engine does
about it*: whether the attempt counts towards ``max_attempts``, how long the work waits, whether
the connection pauses (and in which state), and the final status of a write that ends here.
The recorder, the runner and the bulk job all read this one table, so a new action is one row.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from crmsync.domain.enums import ConnectionStatus, OpStatus
from crmsync.domain.outcomes import Action, Resolution


class Wait(StrEnum):
    NONE = "none"
    """Again at once (the next claim)."""
    BACKOFF = "backoff"
    """Exponential backoff with jitter, but never sooner than the CRM asked (503 Retry-After)."""
    CRM = "crm"
    """As long as the CRM said (a 429's window, a daily allocation); backoff if it named none."""


@dataclass(frozen=True)
class Consequence:
    counts_attempt: bool
    """Does this outcome use up one of the write's ``max_attempts``?"""
    wait: Wait
    pause: ConnectionStatus | None = None
    """The connection stops syncing in this state until an admin acts; its queue is kept."""
    final: OpStatus | None = None
    """The write ends here with this status; ``None``: it waits and is tried again."""


OUTCOMES: dict[Action, Consequence] = {
    Action.RETRY: Consequence(counts_attempt=True, wait=Wait.BACKOFF),
    Action.RATE_LIMITED: Consequence(counts_attempt=False, wait=Wait.CRM),
    Action.REFRESH_TOKEN: Consequence(  # reaching the engine: the refresh did not help
        counts_attempt=False, wait=Wait.NONE, pause=ConnectionStatus.NEEDS_RECONNECT
    ),
    Action.RECONNECT: Consequence(
        counts_attempt=False, wait=Wait.NONE, pause=ConnectionStatus.NEEDS_RECONNECT
    ),
    Action.SETUP_REQUIRED: Consequence(
        counts_attempt=False, wait=Wait.NONE, pause=ConnectionStatus.SETUP_REQUIRED
    ),
    Action.FAIL: Consequence(counts_attempt=True, wait=Wait.NONE, final=OpStatus.FAILED),
    Action.SKIP: Consequence(counts_attempt=True, wait=Wait.NONE, final=OpStatus.SKIPPED),
    Action.DEFER: Consequence(counts_attempt=False, wait=Wait.NONE),
}
"""Every ``Action`` has its row (a test checks that none is missing)."""


def consequence(resolution: Resolution) -> Consequence:
    return OUTCOMES[resolution.action]


def gives_up(resolution: Resolution, attempts: int, max_attempts: int) -> bool:
    """Would one more counted attempt reach ``max_attempts``? (``attempts`` made before.)"""
    return consequence(resolution).counts_attempt and attempts + 1 >= max_attempts


def delay(attempts: int, base: float, ceiling: float, resolution: Resolution) -> float:
    """Seconds before the next try, as the table says for this outcome."""
    wait = consequence(resolution).wait
    if wait is Wait.NONE:
        return 0.0
    if wait is Wait.CRM and resolution.retry_after:
        return resolution.retry_after
    top = min(ceiling, base * 2 ** max(0, attempts))
    jittered = random.uniform(top / 2, top)
    return max(jittered, resolution.retry_after or 0.0)
