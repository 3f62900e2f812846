"""Push triggers' bodies: a score the host reports, a to-do it assigns, and what either did."""

from __future__ import annotations

from pydantic import BaseModel, Field

from crmsync.api.schemas import ShortIdentifier, Strict
from crmsync.domain.views import Triggered


class ScoreIn(Strict):
    score: float = Field(
        allow_inf_nan=False,
        description="The person's score in this org. At or above the connection's "
        "push_score_threshold it pushes the contact, once per crossing.",
    )


class TodoIn(Strict):
    assigned_to: ShortIdentifier = Field(
        description="The org user the to-do is assigned to: they become the contact's owner "
        "in the CRM, and the contact is pushed with them as owner."
    )


class TriggerOut(BaseModel):
    queued: bool = Field(description="Was the contact queued for a push?")
    detail: str

    @classmethod
    def of(cls, done: Triggered) -> TriggerOut:
        return cls(queued=done.connection_id is not None, detail=done.reason)
