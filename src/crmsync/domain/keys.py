"""What a piece of sync state is about: a record of one object type, seen from one connection.

Work items, links and operations are keyed by (connection, object type, local id). The local
side is an app record (a contact today; conversations and host-declared entities later) or,
for CRM-to-CRM, a record of another connection.
"""

from __future__ import annotations

from dataclasses import dataclass

CONTACT = "contact"
"""The app's contact records: the host's people, whose local id is the Person ID."""

CONVERSATION = "conversation"
"""The host's conversations with a contact (an email, a call, a note), whose local id is the
host's conversation id; each is exported linked to its contact's CRM record."""


@dataclass(frozen=True, slots=True)
class RecordKey:
    """One record's key on one connection, as the sync tables store it."""

    connection_id: str
    object_type: str
    local_id: str
