"""Where a HubSpot change read stands, in HubSpot's own terms, as one opaque string.

The position is a ``lastmodifieddate`` stamp (epoch ms) and, inside a tie on that stamp, the
last ``hs_object_id`` read; ``edge`` holds the contacts already delivered within the overlap
window behind the stamp (id → stamp), so a window read again for the search index's lag
delivers only what it did not see before. The archived-list fields track a lap of
``GET /contacts?archived=true`` (see ``reading``). Nothing in it is crmsync's clock.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime

from crmsync import jsoncodec

PREFIX = "hs1."
FORWARD = "forward"
"""Reading a backlog: strictly after the position, no window."""
TAIL = "tail"
"""Caught up: each read starts one overlap window behind the position."""


@dataclass
class Position:
    stamp: int = 0
    last_id: int | None = None
    """Within ``stamp``, every id up to this one was delivered (None: none at ``stamp``)."""
    mode: str = FORWARD
    edge: dict[str, int] = field(default_factory=dict)
    archived_after: str | None = None
    """The archived list's page token of the lap in progress (None: a lap starts next)."""
    archived_floor: int = 0
    """Archives at or after this ``archivedAt`` (ms) are reported in the lap in progress."""
    archived_seen: int = 0
    """The latest ``archivedAt`` seen by the end of the previous lap."""
    archived_latest: int = 0
    """The latest ``archivedAt`` seen so far."""
    settled: int = 0
    """Every write stamped at or before this was searchable at a read that saw the window
    (HubSpot's own clock had passed it by the overlap): the window need not reach behind it."""

    def window_start(self, overlap: int) -> int:
        """Where a caught-up read starts: one overlap behind the stamp, not behind ``settled``."""
        return max(self.stamp - overlap, self.settled)

    def encode(self) -> str:
        body = {
            "s": self.stamp,
            "i": self.last_id,
            "m": self.mode,
            "e": self.edge,
            "aa": self.archived_after,
            "af": self.archived_floor,
            "as": self.archived_seen,
            "al": self.archived_latest,
            "st": self.settled,
        }
        raw = base64.urlsafe_b64encode(jsoncodec.dumps_bytes(body)).decode().rstrip("=")
        return PREFIX + raw

    @classmethod
    def decode(cls, cursor: str | None) -> Position:
        """None: from the beginning. A bare stamp (an older cursor) is read as a position
        at that stamp. Anything else is refused: guessing would skip or repeat changes."""
        if not cursor:
            return cls()
        if not cursor.startswith(PREFIX):
            return cls(stamp=millis(cursor))
        raw = cursor[len(PREFIX) :]
        try:
            body = jsoncodec.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            return cls(
                stamp=int(body["s"]),
                last_id=None if body["i"] is None else int(body["i"]),
                mode=TAIL if body["m"] == TAIL else FORWARD,
                edge={str(k): int(v) for k, v in dict(body["e"]).items()},
                archived_after=None if body["aa"] is None else str(body["aa"]),
                archived_floor=int(body["af"]),
                archived_seen=int(body["as"]),
                archived_latest=int(body["al"]),
                settled=int(body.get("st", 0)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a HubSpot change cursor: {cursor[:40]!r}") from exc


def millis(stamp: str) -> int:
    """HubSpot's stamps are ISO-8601 (``...Z``) or epoch milliseconds."""
    if stamp.isdigit():
        return int(stamp)
    try:
        return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError as exc:
        raise ValueError(f"not a HubSpot stamp: {stamp!r}") from exc
