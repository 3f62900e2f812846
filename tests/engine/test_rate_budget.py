"""The client's rate budget never exceeds the CRM's rolling window."""

from __future__ import annotations

from crmsync.connectors.http import RateBudget
from crmsync.connectors.spec import RateLimitSpec


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_no_rolling_window_ever_holds_more_than_the_limit() -> None:
    clock = FakeClock()
    budget = RateBudget(RateLimitSpec(110, 10.0), clock=clock, margin=0.0)
    sends = []
    for _ in range(1000):
        wait = budget.reserve()
        clock.now += wait  # the caller sleeps, then sends
        sends.append(clock.now)
        clock.now += 0.001
    for i, t in enumerate(sends):
        in_window = [s for s in sends[i:] if s < t + 10.0]
        assert len(in_window) <= 110
    rate = len(sends) / (sends[-1] - sends[0])
    assert 10.0 < rate <= 11.5  # close to the bound of 11 requests/s


def test_a_429_blocks_everyone_until_the_crm_said() -> None:
    clock = FakeClock()
    budget = RateBudget(RateLimitSpec(100, 10.0), clock=clock)
    budget.block_for(3.0)
    assert budget.reserve() == 3.0
