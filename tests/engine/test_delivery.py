"""Webhook delivery against a receiver that checks signatures as a host would: down for a
while, then up; workers dying mid-send; a receiver that never comes back."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from crmsync.db.tables import WebhookDelivery, naive_utc, utcnow
from crmsync.domain.enums import FeedKind
from crmsync.engine import delivery, feed
from tests.support.world import World, world


class Receiver:
    """The host's endpoint: verifies ``Crmsync-Signature`` with its own HMAC code, and can be
    told to fail (a status, or a timeout) before it answers 200."""

    def __init__(self) -> None:
        self.secret = ""
        self.failures: list[int | str] = []
        self.received: dict[str, dict[str, Any]] = {}
        self.attempts = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if self.failures:
            failure = self.failures.pop(0)
            if failure == "timeout":
                raise httpx.ReadTimeout("receiver too slow", request=request)
            return httpx.Response(int(failure))
        parts = dict(p.split("=", 1) for p in request.headers["Crmsync-Signature"].split(","))
        signed = parts["t"].encode() + b"." + request.content
        expected = hmac.new(self.secret.encode(), signed, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, parts["v1"]):
            return httpx.Response(401)
        body = json.loads(request.content)
        assert request.headers["Crmsync-Event"] == body["kind"]
        self.received.setdefault(request.headers["Crmsync-Delivery"], body)
        return httpx.Response(204)


@pytest.fixture
def w(db_url: str, tmp_path: Path) -> Iterator[World]:
    with world(db_url, tmp_path, "hubspot") as instance:
        yield instance


@pytest.fixture
def receiver(w: World) -> Receiver:
    receiver = Receiver()
    w.rt.webhook_transport = httpx.MockTransport(receiver)
    w.org("org1")
    r = w.api.post("/api/v1/orgs/org1/webhooks", json={"url": "https://host.test/hooks"})
    assert r.status_code == 201, r.text
    receiver.secret = r.json()["secret"]
    return receiver


def _append(w: World, record_id: str, kind: FeedKind = FeedKind.UPDATED) -> int:
    return w.rt.db.transaction(
        lambda session: feed.append(
            session,
            org_id="org1",
            connection_id=None,
            entity="contact",
            record_id=record_id,
            kind=kind,
            fields={"title": f"CTO of {record_id}"},
            owner={"user_id": None, "crm_user_email": "owner@acme.test"},
        )
    )


def _deliveries(w: World) -> list[WebhookDelivery]:
    with w.rt.db.session() as session:
        rows = list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
        session.expunge_all()
        return rows


def _next_due(w: World) -> datetime:
    return min(naive_utc(d.next_attempt_at) for d in _deliveries(w) if d.status == "pending")


def test_receiver_down_then_up_gets_every_change_once_signed(w: World, receiver: Receiver) -> None:
    seqs = [_append(w, f"p{i}") for i in range(3)]
    receiver.failures = [503, 503, 503, "timeout", "timeout", "timeout", 500, 500, 500]
    now = naive_utc(utcnow())
    gaps: list[timedelta] = []
    for _ in range(10):
        report = delivery.deliver_due(w.rt, now=now, jitter=lambda: 1.0)
        if report.delivered == report.claimed and report.claimed:
            break
        due = _next_due(w)
        gaps.append(due - now)
        now = due
    assert gaps == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert sorted(b["seq"] for b in receiver.received.values()) == seqs
    rows = _deliveries(w)
    assert {str(d.id) for d in rows} == set(receiver.received)
    assert all(d.status == "delivered" and d.attempts == 4 for d in rows)
    assert receiver.received[str(rows[0].id)]["person_id"] == "p0"


def test_backoff_is_jittered_and_capped_at_an_hour() -> None:
    assert delivery.retry_delay(1, 1.0) == timedelta(minutes=1)
    assert delivery.retry_delay(3, 1.0) == timedelta(minutes=4)
    assert delivery.retry_delay(12, 1.0) == timedelta(hours=1)
    assert delivery.retry_delay(40, 1.1) == timedelta(hours=1.1)
    assert delivery.retry_delay(1, 0.9) == timedelta(seconds=54)


def test_bad_signature_secret_is_refused_by_the_receiver(w: World, receiver: Receiver) -> None:
    receiver.secret = "not-the-secret"
    _append(w, "p1")
    report = delivery.deliver_due(w.rt)
    assert report.retrying == 1
    assert _deliveries(w)[0].last_status_code == 401


def test_worker_dying_mid_delivery_leaves_it_to_the_next_after_the_lease(
    w: World, receiver: Receiver
) -> None:
    _append(w, "p1")
    now = naive_utc(utcnow())
    claimed = w.rt.db.transaction(lambda session: delivery.claim(session, now))
    assert len(claimed) == 1  # ... and that worker dies before sending or recording
    assert delivery.deliver_due(w.rt, now=now + timedelta(seconds=30)).claimed == 0
    report = delivery.deliver_due(w.rt, now=now + delivery.LEASE + timedelta(seconds=1))
    assert report.delivered == 1
    assert len(receiver.received) == 1


def test_receiver_never_up_is_retried_for_over_24_hours_then_failed(
    w: World, receiver: Receiver
) -> None:
    _append(w, "p1")
    receiver.failures = [500] * 1000
    start = now = naive_utc(utcnow())
    attempts: list[datetime] = []
    while _deliveries(w)[0].status == "pending":
        delivery.deliver_due(w.rt, now=now)
        attempts.append(now)
        if _deliveries(w)[0].status == "pending":
            now = _next_due(w)
    row = _deliveries(w)[0]
    assert row.status == "failed" and row.attempts == len(attempts)
    assert attempts[-1] - start >= timedelta(hours=24)
    assert all(b - a <= timedelta(hours=1.1) for a, b in pairwise(attempts))
    assert receiver.received == {}


def test_later_change_of_a_record_waits_for_the_earlier_pending_one(
    w: World, receiver: Receiver
) -> None:
    first = _append(w, "p1", FeedKind.CREATED)
    second = _append(w, "p1")
    other = _append(w, "p2")
    receiver.failures = [503]
    now = naive_utc(utcnow())
    report = delivery.deliver_due(w.rt, now=now)
    assert report.claimed == 2  # p1's second change is held back
    assert [b["seq"] for b in receiver.received.values()] == [other]
    later = now + timedelta(minutes=2)
    assert delivery.deliver_due(w.rt, now=later).claimed == 1  # still only the first
    assert delivery.deliver_due(w.rt, now=later).claimed == 1  # then the second
    assert [b["seq"] for b in receiver.received.values()] == [other, first, second]


def test_sweep_enqueues_a_delivery_task_only_when_one_is_due(w: World, receiver: Receiver) -> None:
    from crmsync.engine.queue import sweep_now

    calls: list[str] = []
    sweep_now(w.rt, lambda _c: None, lambda: calls.append("deliver"))
    assert calls == []
    _append(w, "p1")
    sweep_now(w.rt, lambda _c: None, lambda: calls.append("deliver"))
    assert calls == ["deliver"]


def test_two_workers_claiming_at_once_take_disjoint_deliveries(
    w: World, receiver: Receiver, db_url: str
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises writers")
    for i in range(6):
        _append(w, f"p{i}")
    now = naive_utc(utcnow())
    with w.rt.db.session() as first, w.rt.db.session() as second:
        mine = delivery.claim(first, now, size=3)
        theirs = delivery.claim(second, now, size=10)  # does not wait for the first
    assert len(mine) == 3 and len(theirs) == 3
    assert not set(mine) & set(theirs)


def test_delivery_task_is_registered_and_delivers(w: World, receiver: Receiver) -> None:
    from huey import MemoryHuey

    from crmsync.engine.queue import create_queue

    queue = create_queue(w.rt, MemoryHuey(immediate=True))
    _append(w, "p1")
    queue.sweeper.deliver()
    assert len(receiver.received) == 1


def test_a_late_failure_from_a_lapsed_worker_does_not_undo_a_delivery(
    w: World, receiver: Receiver
) -> None:
    _append(w, "p1")
    now = naive_utc(utcnow())
    [stale] = w.rt.db.transaction(lambda session: delivery.claim(session, now))
    later = now + delivery.LEASE + timedelta(seconds=1)
    assert delivery.deliver_due(w.rt, now=later).delivered == 1
    late = [delivery.Outcome(stale, 503, "HTTP 503")]
    w.rt.db.transaction(lambda session: delivery.record(session, late, later, lambda: 1.0))
    assert _deliveries(w)[0].status == "delivered"
