"""Strips secrets and masks personal data before anything is logged or stored as a summary."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SECRET_KEYS = re.compile(
    r"(token|secret|password|authorization|api[_-]?key|code_verifier|cookie|signature)", re.I
)
EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+)")
DIGITS = re.compile(r"\d(?=(?:[^\d]*\d){4})")
MAX_TEXT = 300


def mask_value(value: Any) -> Any:
    """Keep enough of a value to recognise it: ``j***@example.com``, ``***-***-1234``."""
    if isinstance(value, str):
        text = EMAIL.sub(r"\1***\2", value)
        if text == value and sum(c.isdigit() for c in value) >= 7:
            text = DIGITS.sub("*", value)
        return text[:MAX_TEXT]
    if isinstance(value, list):
        return [mask_value(v) for v in value[:10]]
    if isinstance(value, Mapping):
        return redact(value)
    return value


def redact(data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with secret-looking keys removed and personal values masked."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if SECRET_KEYS.search(str(key)):
            out[key] = "[redacted]"
        else:
            out[key] = mask_value(value)
    return out
