"""A fault soak on every `make test`: 2,000 people in each of the four CRMs, every fault kind
for the first minute, three workers SIGKILLed, one reconnect. About 80 s on two cores; the
full one is `bench/soak.py` (see docs/benchmarks.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_AVAILABLE, REQUIRE_PG
from tests.support.services import redis_available

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def test_a_small_soak_loses_duplicates_and_corrupts_nothing() -> None:
    if not (PG_AVAILABLE and redis_available()):
        if REQUIRE_PG:
            pytest.fail("the soak needs PostgreSQL and Redis")
        pytest.skip("PostgreSQL or Redis not reachable")
    run = subprocess.run(
        [
            sys.executable,
            str(SOAK),
            *("--people", "2000", "--waves", "10", "--pause", "3"),
            *("--kills", "3", "--kill-every", "15"),
            *("--fault-seconds", "60", "--crm-timeout", "1"),
            *("--timeout", "400", "--redis-url", "redis://127.0.0.1:6379/12"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    report = run.stdout + run.stderr[-3000:]
    assert run.returncode == 0, report
    assert "RESULT ok" in run.stdout
    assert "worker kills              3" in run.stdout
    assert "people                    2000 in each of 4 CRMs" in run.stdout
