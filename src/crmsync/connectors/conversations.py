"""What connectors share about conversations: the text a CRM note shows, and turning one
write's refused call into its outcome (the call's problem, unless it pauses the connection)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from crmsync.domain.outcomes import Action
from crmsync.domain.writes import ConversationWrite, WriteOutcome
from crmsync.errors import ConnectorError

CHANNEL_LABELS = {
    "email": "Email",
    "sms": "SMS",
    "call": "Call",
    "chat": "Chat",
    "note": "Note",
}
ACCOUNT_WIDE = frozenset(
    {Action.RECONNECT, Action.REFRESH_TOKEN, Action.SETUP_REQUIRED, Action.RATE_LIMITED}
)


def heading(write: ConversationWrite) -> str:
    """``Email (inbound): Subject``: what a note-only CRM shows above the body."""
    label = f"{CHANNEL_LABELS.get(write.channel, write.channel)} ({write.direction})"
    return f"{label}: {write.subject}" if write.subject else label


def note_text(write: ConversationWrite) -> str:
    """A note's text: the heading, then the body."""
    return f"{heading(write)}\n\n{write.body}" if write.body else heading(write)


async def one_by_one(
    writes: list[ConversationWrite],
    write_one: Callable[[ConversationWrite], Awaitable[WriteOutcome]],
) -> list[WriteOutcome]:
    """Each conversation in its own call; a refused call is that write's outcome. A problem
    of the whole account (authorisation, setup, the rate limit) is also the outcome of every
    write after it, unsent: what landed before it is kept, never sent twice."""
    outcomes: list[WriteOutcome] = []
    stop: WriteOutcome | None = None
    for write in writes:
        if stop is not None:
            outcomes.append(
                WriteOutcome(
                    write.local_id,
                    resolution=stop.resolution,
                    response_summary=stop.response_summary,
                )
            )
            continue
        try:
            outcomes.append(await write_one(write))
        except ConnectorError as exc:
            failed = WriteOutcome(
                write.local_id,
                resolution=exc.resolution,
                response_summary={"error": exc.resolution.reason},
            )
            outcomes.append(failed)
            if exc.resolution.action in ACCOUNT_WIDE:
                stop = failed
    return outcomes
