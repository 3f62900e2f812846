"""Text that cannot be stored, refused at every edge (the REST API and the admin web UI).

PostgreSQL refuses NUL in text and JSON, and a lone UTF-16 surrogate (JSON "\\ud800") is not
valid Unicode, so it cannot be encoded or stored either. SQLite would store both, so the
check is made on every database, before any query.
"""

from __future__ import annotations

import re

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be accepted as text, or None when it can."""
    found = UNSTORABLE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "must not contain NUL characters (\\x00)"
    return "must not contain lone UTF-16 surrogates"
