"""What happened to a CRM call or a record, in provider-neutral terms: an ``Action`` and the
``Resolution`` that carries it. ``crmsync.errors`` classifies into these; the engine's outcome
table (``engine/retry.py``) says what each action does."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    RETRY = "retry"
    RATE_LIMITED = "rate_limited"
    REFRESH_TOKEN = "refresh_token"
    RECONNECT = "reconnect"
    FAIL = "fail"
    SKIP = "skip"
    SETUP_REQUIRED = "setup_required"
    """The CRM lacks something only its admin can add (a custom field): the connection
    pauses in Setup required; nothing counts as an attempt."""
    DEFER = "defer"
    """Not attempted this time (e.g. held back after its batch-mates failed): try again
    at once, without counting an attempt."""


@dataclass(frozen=True)
class Resolution:
    action: Action
    reason: str
    retry_after: float | None = None
    status_code: int | None = None
    code: str | None = None


DELETED_IN_CRM = "deleted_in_crm"


def deleted_in_crm(crm: str) -> Resolution:
    """A write to a linked record the CRM no longer has: a CRM user deleted it, so it is not
    made again behind their back (the app side is deactivated by the read; a restore there
    reactivates it and the record syncs again)."""
    reason = f"deleted in {crm}: it syncs again once restored there"
    return Resolution(Action.SKIP, reason, code=DELETED_IN_CRM)
