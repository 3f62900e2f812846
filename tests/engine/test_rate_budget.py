"""The client's rate budget never exceeds the CRM's rolling window."""

from __future__ import annotations

import pytest

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


def test_sends_are_spread_over_the_window_after_a_small_burst() -> None:
    """A burst of 110 then a 9-second stall made a live unlock wait most of a window; a
    short run's few calls still go at once."""
    clock = FakeClock()
    budget = RateBudget(RateLimitSpec(110, 10.0), clock=clock, margin=0.0)
    gap = 10.0 / 110
    waits = [budget.reserve() for _ in range(8)]  # asked at the same instant
    assert waits == pytest.approx([0.0] * 5 + [gap, 2 * gap, 3 * gap])


def test_the_burst_comes_back_after_a_quiet_spell_and_never_beats_the_even_rate() -> None:
    clock = FakeClock()
    budget = RateBudget(RateLimitSpec(110, 10.0), clock=clock, margin=0.0)
    gap = 10.0 / 110
    for _ in range(200):  # a backfill: the schedule runs ahead of the clock
        clock.now += budget.reserve()
    assert budget.reserve() == pytest.approx(gap)  # no burst while busy
    clock.now += 60.0
    assert [budget.reserve() for _ in range(6)] == pytest.approx([0.0] * 5 + [gap])


def test_a_429_blocks_everyone_until_the_crm_said() -> None:
    clock = FakeClock()
    budget = RateBudget(RateLimitSpec(100, 10.0), clock=clock)
    budget.block_for(3.0)
    assert budget.reserve() == 3.0


def test_every_connector_of_one_crm_account_shares_one_budget() -> None:
    """Connect-time setup and later sync runs must not each get a full window."""
    import httpx

    from crmsync.connectors.base import AppNames, ConnectorContext
    from crmsync.connectors.http import RateBudgets
    from crmsync.providers.hubspot.connector import HubSpotConnector
    from crmsync.providers.hubspot.spec import SPEC

    budgets = RateBudgets()  # the process's (the runtime's)

    def connector(settings: dict[str, str], account: str = "portal-1") -> HubSpotConnector:
        app = AppNames("Acme", "acme")
        return HubSpotConnector(
            ConnectorContext(SPEC, httpx.AsyncClient(), app, account, settings, budgets=budgets)
        )

    at_connect = connector({})
    during_sync = connector({"connection_id": "c-1"})
    other_account = connector({}, account="portal-2")
    assert at_connect.rate_budget() is during_sync.rate_budget()
    assert other_account.rate_budget() is not at_connect.rate_budget()
