"""Column types with a hot-path cost worth owning."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator

_UNSEEN = object()


class Timestamp(TypeDecorator[datetime]):
    """A moment, stored as ``DateTime(timezone=True)``: PostgreSQL's ``timestamptz``, and on
    SQLite the text SQLAlchemy's ``DATETIME`` writes (``2026-11-23 03:12:45.123456``, UTC).

    On SQLite, SQLAlchemy formats and parses that text field by field in Python: 15 % of the
    engine's time executing SQL went to formatting alone (``bench/backfill.py --unlimited``).
    This writes and reads the same text with ``datetime.isoformat`` and ``fromisoformat``
    (both in C). An aware value is converted to UTC first (``DATETIME`` kept its wall time,
    whatever its zone); values come back naive, as before.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        general = super().bind_processor(dialect)
        if dialect.name != "sqlite":
            return general

        last: tuple[object, str] = (_UNSEEN, "")

        def process(value: Any) -> Any:
            nonlocal last
            seen, text = last
            if value is seen:  # a batch's rows share one ``now``: formatted once
                return text
            if type(value) is not datetime:  # None, a date: as SQLAlchemy would
                return general(value) if general is not None else value
            zone = value.tzinfo
            if zone is None:
                text = value.isoformat(" ", "microseconds")
            else:
                utc = value if zone is UTC else value.astimezone(UTC)
                text = utc.isoformat(" ", "microseconds")[:26]  # without its "+00:00"
            last = (value, text)  # (one tuple: threads sharing this see a matching pair)
            return text

        return process

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        general = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite":
            return general

        def process(value: Any) -> Any:
            if isinstance(value, str):
                try:
                    return datetime.fromisoformat(value)
                except ValueError:
                    pass
            return general(value) if general is not None else value

        return process
