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
SEVEN_DIGITS = re.compile(r"(?:\D*\d){7}")
"""Does the text hold at least seven digits (a phone-like value)? Stops at the seventh."""
MAX_TEXT = 300


def mask_value(value: Any) -> Any:
    """Keep enough of a value to recognise it: ``j***@example.com``, ``***-***-1234``."""
    # Fast paths first: this runs for every field of every record the engine logs.
    kind = type(value)
    if kind is str:
        return _mask_text(value)
    if value is None or kind in _PLAIN:
        return value
    if isinstance(value, str):
        return _mask_text(value)
    if isinstance(value, list):
        return [mask_value(v) for v in value[:10]]
    if isinstance(value, Mapping):
        return redact(value)
    return value


_PLAIN = frozenset({bool, int, float})


def _mask_text(value: str) -> str:
    if "@" in value:
        text = EMAIL.sub(_mask_email, value)
        if text != value:
            return text[:MAX_TEXT]
    if len(value) >= 7 and _phone_like(value):
        return _mask_digits(value)[:MAX_TEXT]
    return value[:MAX_TEXT]


_ASCII_DIGITS = b"0123456789"


def _phone_like(text: str) -> bool:
    """At least seven digits? (``SEVEN_DIGITS``; for ASCII text, counted by deleting them in
    C, a fifth of the expression's cost)"""
    if text.isascii():
        return len(text) - len(text.encode("ascii").translate(None, _ASCII_DIGITS)) >= 7
    return SEVEN_DIGITS.match(text) is not None


def _mask_email(match: re.Match[str]) -> str:
    return f"{match[1]}***{match[2]}"


_BYTE_STARS = bytes.maketrans(b"0123456789", b"**********")
_FOUR_DIGITS = re.compile(r"(?:\D*\d){4}")


def _mask_digits(text: str) -> str:
    """Every digit but the last four becomes ``*``."""
    if not text.isascii():  # other scripts' digits: the general (slower) expression
        return DIGITS.sub("*", text)
    kept = _FOUR_DIGITS.match(text[::-1])  # the last four digits, and what follows them
    if kept is None:
        return text
    cut = len(text) - kept.end()
    return text[:cut].encode("ascii").translate(_BYTE_STARS).decode("ascii") + text[cut:]


_SECRET: dict[str, bool] = {}
"""Is this key a secret's name? (keys repeat endlessly: decided once each, up to a bound)"""


def _secret_key(key: str) -> bool:
    secret = _SECRET.get(key)
    if secret is None:
        secret = SECRET_KEYS.search(key) is not None
        if len(_SECRET) < 4096:
            _SECRET[key] = secret
    return secret


def redact(data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with secret-looking keys removed and personal values masked."""
    return {
        key: "[redacted]" if _secret_key(str(key)) else mask_value(value)
        for key, value in data.items()
    }
