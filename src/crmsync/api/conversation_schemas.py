"""The host API's conversation bodies (``POST /orgs/{org}/conversations``)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from crmsync.api.schemas import Identifier, Strict
from crmsync.domain.commands import RecordConversation

MAX_CONVERSATIONS_PER_CALL = 1000
MAX_BODY = 65_000
"""Characters of a conversation's body: under the smallest CRM limit (HubSpot's note body,
65,536)."""


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    CALL = "call"
    CHAT = "chat"
    NOTE = "note"


class ConversationDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a timestamp needs its UTC offset (e.g. 2026-12-04T10:00:00Z)")
    return moment.astimezone(UTC)


Moment = Annotated[datetime, AfterValidator(_aware)]


class ConversationIn(Strict):
    id: Identifier = Field(description="The host's id: posting it again updates, never adds.")
    person_id: Identifier = Field(description="The contact the conversation was with.")
    channel: Channel
    direction: ConversationDirection
    subject: Annotated[str, StringConstraints(max_length=300, strip_whitespace=True)] = ""
    body: Annotated[str, StringConstraints(max_length=MAX_BODY)] = ""
    occurred_at: Moment = Field(description="When it happened (started), with its UTC offset.")

    def command(self) -> RecordConversation:
        return RecordConversation(
            id=self.id,
            person_id=self.person_id,
            channel=self.channel.value,
            direction=self.direction.value,
            subject=self.subject,
            body=self.body,
            occurred_at=self.occurred_at,
        )


ConversationList = Annotated[
    list[ConversationIn], Field(min_length=1, max_length=MAX_CONVERSATIONS_PER_CALL)
]


class ConversationsAccepted(BaseModel):
    accepted: int = Field(description="Conversations in the request.")
    created: int = Field(description="Conversations that were new.")
    updated: int = Field(description="Known conversations whose values changed.")
    unchanged: int = Field(description="Known conversations sent with the values stored.")
    contacts_queued: int = Field(description="Contacts not yet in the CRM, pushed first.")
