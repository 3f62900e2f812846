"""A backlog moves in groups of requests: one transaction claims, plans and records several
requests' worth of people, and a request failing mid-group loses nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crmsync.db.tables import WorkItem
from crmsync.domain.enums import Lane
from crmsync.domain.outcomes import Action, Resolution
from crmsync.engine import pump
from crmsync.engine.batch import BatchRecorder
from crmsync.engine.pump import group_size
from crmsync.errors import TransientError
from tests.support.fake_connector import FakeCrm, FakeWorld, Hold, Land, Raise, fake_world


@contextmanager
def backlog(
    sqlite_url: str, tmp_path: Path, people: int, group: int, crm: FakeCrm
) -> Iterator[FakeWorld]:
    with fake_world(sqlite_url, tmp_path, crm, requests_per_transaction=group) as w:
        w.org("org1", {"u1": "owner@acme.test"})
        w.connect("org1")
        for i in range(people):
            w.person(f"p{i:03d}")
        w.enqueue([f"p{i:03d}" for i in range(people)], Lane.BACKFILL)
        yield w


UNAVAILABLE = Raise(TransientError(Resolution(Action.RETRY, "service unavailable", None, 503)))
"""A request failing as a whole, as a CRM's 503 would."""


def largest_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Groups grow to the most allowed at once, whichever side was faster."""
    monkeypatch.setattr(pump, "group_size", lambda requests, faster, most: most)


def claims(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many people each transaction claimed."""
    claimed: list[int] = []
    record_and_plan = BatchRecorder.record_and_plan

    def counted(self: BatchRecorder, *args: Any) -> Any:
        batch, writes = record_and_plan(self, *args)
        claimed.append(len(batch))
        return batch, writes

    monkeypatch.setattr(BatchRecorder, "record_and_plan", counted)
    return claimed


def test_a_group_grows_while_the_crm_is_faster_and_shrinks_while_it_is_slower() -> None:
    assert [group_size(n, True, 8) for n in (1, 2, 4, 8)] == [2, 4, 8, 8]
    assert [group_size(n, False, 8) for n in (8, 4, 2, 1)] == [1, 1, 1, 1]
    assert group_size(1, True, 1) == 1, "requests_per_transaction=1: a request a transaction"


def test_one_transaction_claims_and_plans_a_group_of_requests(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    claimed = claims(monkeypatch)
    largest_groups(monkeypatch)
    crm = FakeCrm()
    with backlog(sqlite_url, tmp_path, people=650, group=2, crm=crm) as w:
        w.runner.run(w.connection().id)
        assert claimed[:5] == [100, 100, 200, 200, 50], "a run starts with one request's worth"
        assert [len(people) for people in crm.requests] == [100] * 6 + [50], "a batch a request"
        assert crm.landed == {f"p{i:03d}": 1 for i in range(650)}


def test_a_slow_crm_keeps_groups_at_one_request(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a rate limit the engine waits on the CRM anyway: a larger group would only make a
    new unlock wait behind more requests."""
    claimed = claims(monkeypatch)
    crm = FakeCrm(default=Hold(seconds=0.3))
    with backlog(sqlite_url, tmp_path, people=400, group=8, crm=crm) as w:
        w.runner.run(w.connection().id)
        assert max(claimed) == 100
        assert len(crm.landed) == 400


def test_a_request_failing_mid_group_keeps_what_landed_and_loses_nobody(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    largest_groups(monkeypatch)
    crm = FakeCrm()
    crm.script(Land(), Land(), Land(), UNAVAILABLE)  # the third group's second request fails
    with backlog(sqlite_url, tmp_path, people=600, group=3, crm=crm) as w:
        # groups of 1, 1 and 3 requests
        result = w.runner.run(w.connection().id)
        sent = list(crm.requests)
        assert "service unavailable" in result.stopped
        assert len(sent) == 4, "the group stops at the failed request"
        landed, failed = {p for people in sent[:3] for p in people}, set(sent[3])
        assert set(crm.landed) == landed
        with w.rt.db.session() as session:
            items = {i.local_id: i for i in session.scalars(select(WorkItem))}
        assert landed.isdisjoint(items), "what landed was recorded, not sent again"
        assert {items[p].attempts for p in failed} == {1}, "the failed request used an attempt"
        unsent = set(items) - failed  # the group's last request, and the next group planned
        assert len(unsent) == 200 and {items[p].attempts for p in unsent} == {0}
        assert {i.status for i in items.values()} == {"pending"}
        statuses = {op["person_id"]: op["status"] for op in w.operations()}
        assert {statuses[p] for p in landed} == {"inserted"}
        assert {statuses[p] for p in failed} == {"retrying"}

        monkeypatch.undo()
        w.drain()
        assert crm.landed == {f"p{i:03d}": 1 for i in range(600)}
