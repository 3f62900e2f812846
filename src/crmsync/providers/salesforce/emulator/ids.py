"""Salesforce record IDs: a 3-character key prefix per object, 15 case-sensitive characters,
and the 3-character suffix that makes the 18-character form case-insensitive."""

from __future__ import annotations

import itertools
import secrets
import string
import threading
from collections.abc import Iterator

_SUFFIX = string.ascii_uppercase + "012345"
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase

KEY_PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "Opportunity": "006",
    "Lead": "00Q",
    "Task": "00T",
    "User": "005",
    "Organization": "00D",
    "AssignmentRule": "01Q",
    "CustomField": "00N",
    "Job": "750",
    "QueryLocator": "01g",
    # sales objects (schema_sales.py)
    "Event": "00U",
    "OpportunityStage": "01J",
    "RecordType": "012",
    "BusinessProcess": "019",
    "Group": "00G",
    "QueueSobject": "03g",
}


def to18(id15: str) -> str:
    """Append the case-safety suffix: one character per 5, encoding which are upper case."""
    suffix = ""
    for start in range(0, 15, 5):
        bits = sum(1 << i for i, ch in enumerate(id15[start : start + 5]) if ch.isupper())
        suffix += _SUFFIX[bits]
    return id15 + suffix


def normalise(record_id: str) -> str | None:
    """The 18-character form of a 15- or 18-character id; None when malformed."""
    if len(record_id) == 15 and record_id.isalnum():
        return to18(record_id)
    if len(record_id) == 18 and record_id.isalnum() and to18(record_id[:15]) == record_id:
        return record_id
    return None


def _base62(number: int, width: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
    return digits.rjust(width, "0")


class IdFactory:
    """Sequential ids per key prefix on one pod (``5g``), like a real org's."""

    def __init__(self, pod: str = "5g") -> None:
        self.pod = pod
        self._lock = threading.Lock()
        self._counters: dict[str, Iterator[int]] = {}

    def org_id(self) -> str:
        """A random organization id, so two emulated orgs never share one."""
        number = secrets.randbelow(62**9)
        return to18(f"00D{self.pod}0{_base62(number, 9)}")

    def new(self, prefix: str) -> str:
        with self._lock:
            counter = self._counters.setdefault(prefix, itertools.count(1))
            number = next(counter)
        return to18(f"{prefix}{self.pod}0{_base62(number, 9)}")
