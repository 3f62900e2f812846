"""Strips secrets and masks personal data before anything is logged or stored as a summary."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

SECRET_KEYS = re.compile(
    r"(token|secret|password|authorization|api[_-]?key|code_verifier|cookie|signature)", re.I
)
EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+)")
DIGITS = re.compile(r"\d(?=(?:[^\d]*\d){4})")
SEVEN_DIGITS = re.compile(r"(?:\D*\d){7}")
"""Does the text hold at least seven digits (a phone-like value)? Stops at the seventh."""
MAX_TEXT = 300


def mask_value(value: Any) -> Any:
    """Keep enough of a value to recognise it: ``j***@example.com``, ``***-***-1234``."""
    if isinstance(value, str):
        # Fast paths first: this runs for every field of every record the engine logs.
        text = EMAIL.sub(r"\1***\2", value) if "@" in value else value
        if text == value and SEVEN_DIGITS.match(value):
            text = DIGITS.sub("*", value)
        return text[:MAX_TEXT]
    if isinstance(value, list):
        return [mask_value(v) for v in value[:10]]
    if isinstance(value, Mapping):
        return redact(value)
    return value


@lru_cache(maxsize=4096)
def _secret_key(key: str) -> bool:
    return SECRET_KEYS.search(key) is not None


def redact(data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with secret-looking keys removed and personal values masked."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if _secret_key(str(key)):
            out[key] = "[redacted]"
        else:
            out[key] = mask_value(value)
    return out
