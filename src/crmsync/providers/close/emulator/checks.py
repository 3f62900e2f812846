"""Field checks the stores beside ``CloseStore`` share: each raises ``ValueError`` with the
message that goes into Close's ``field-errors``."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import Any

from crmsync.providers.close.emulator.errors import invalid


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("Not a valid string.")
    return value


def optional_text(value: Any) -> str | None:
    return None if value is None else text(value)


def integer(value: Any, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("Not a valid integer.")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"Must be between {low} and {high}.")
    return value


def one_of(value: Any, choices: Collection[str]) -> str:
    if value not in choices:
        raise ValueError(f"Not one of: {', '.join(sorted(choices))}.")
    return str(value)


def moment(value: Any) -> str:
    """An ISO datetime with a timezone."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("Not a valid datetime.") from None
    if parsed.tzinfo is None:
        raise ValueError("Not a valid datetime.")
    return parsed.isoformat()


def day(value: Any) -> str | None:
    """A ``YYYY-MM-DD`` date (null clears it)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ValueError("Not a valid date.") from None


def day_or_moment(value: Any) -> str:
    try:
        return moment(value)
    except ValueError:
        parsed = day(value)
    if parsed is None:
        raise ValueError("Not a valid date or datetime.")
    return parsed


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("Not a valid boolean.")
    return value


def member(value: Any, members: Collection[str]) -> str:
    if value not in members:
        raise ValueError("Not a member of this organization.")
    return str(value)


def refuse_unknown(payload: Mapping[str, Any], writable: Collection[str]) -> None:
    unknown = sorted(k for k in payload if k not in writable and not k.startswith("custom."))
    if unknown:
        raise invalid(field_errors={name: "Unknown field." for name in unknown})


def body_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid(["Invalid request: the body must be a JSON object."])
    return body
