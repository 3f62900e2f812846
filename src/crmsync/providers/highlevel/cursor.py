"""Where a HighLevel change read stands, in HighLevel's own terms, as one opaque string.

Two scans of ``POST /contacts/search`` sorted by ``dateUpdated``: live contacts, and deleted
ones. Each keeps the latest ``dateUpdated`` it delivered (epoch ms, HighLevel's stamp), the
``searchAfter`` of a scan in progress (HighLevel's own page cursor, which has no 10,000-result
cap) with the window start it was asked from, and its ``edge``: the contacts delivered within
the overlap window behind the stamp (id → stamp), so a window read again for the index's delay
delivers only what it has not seen, and HighLevel's own time (``Date``) when the scan last
caught up. Nothing in it is crmsync's clock.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crmsync import jsoncodec

PREFIX = "hl1."


@dataclass
class Scan:
    stamp: int = 0
    """The latest ``dateUpdated`` (ms) delivered; 0: nothing yet."""
    since: int | None = None
    """The window start of the scan in progress (None: from the first contact)."""
    after: list[Any] | None = None
    """``searchAfter`` of the scan in progress; None: the next read starts a new scan."""
    edge: dict[str, int] = field(default_factory=dict)
    seen: int = 0
    """HighLevel's own time (its ``Date``, ms) when the last scan caught up; 0: unknown."""

    def as_json(self) -> dict[str, Any]:
        return {"s": self.stamp, "w": self.since, "a": self.after, "e": self.edge, "t": self.seen}

    @classmethod
    def of(cls, body: Any) -> Scan:
        after = body["a"]
        if after is not None and not (isinstance(after, list) and len(after) == 2):
            raise ValueError("searchAfter is a pair")
        return cls(
            stamp=int(body["s"]),
            since=None if body["w"] is None else int(body["w"]),
            after=after,
            edge={str(k): int(v) for k, v in dict(body["e"]).items()},
            seen=int(body.get("t") or 0),
        )


@dataclass
class Position:
    live: Scan = field(default_factory=Scan)
    gone: Scan = field(default_factory=Scan)

    def encode(self) -> str:
        body = {"l": self.live.as_json(), "d": self.gone.as_json()}
        return PREFIX + base64.urlsafe_b64encode(jsoncodec.dumps_bytes(body)).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str | None) -> Position:
        """None: from the beginning. Anything not written by ``encode`` is refused: guessing
        would skip or repeat changes."""
        if not cursor:
            return cls()
        if not cursor.startswith(PREFIX):
            raise ValueError(f"not a HighLevel change cursor: {cursor[:40]!r}")
        raw = cursor[len(PREFIX) :]
        try:
            body = jsoncodec.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            return cls(live=Scan.of(body["l"]), gone=Scan.of(body["d"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a HighLevel change cursor: {cursor[:40]!r}") from exc


def millis(stamp: str) -> int:
    """HighLevel writes its dates as ISO-8601 with milliseconds (``...:41.937Z``)."""
    try:
        return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError as exc:
        raise ValueError(f"not a HighLevel date: {stamp!r}") from exc


def iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
