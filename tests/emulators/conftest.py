"""Fixtures for the emulation toolkit's tests: the anyio backend and a clock tests move by
hand."""

from __future__ import annotations

import pytest

from crmsync.emulation import ManualClock


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
