"""Two workers refreshing one token call the CRM once; a refusal pauses and loses nothing."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from crmsync.db.session import Database
from crmsync.db.tables import WorkItem
from crmsync.domain.enums import ConnectionStatus
from crmsync.emulation.oauth import TokenStatus
from crmsync.engine.tokens import ConnectionTokens
from crmsync.errors import ReconnectRequired
from tests.support.world import World

TOKEN = ("POST", "/oauth/v1/token")


def _worker_tokens(w: World, db: Database) -> ConnectionTokens:
    """What one worker process holds: its own engine, the shared key, the same connection."""
    return ConnectionTokens(db, w.rt.vault, w.connection().id, w.rt.oauth_flow("hubspot"))


def _slow_token_endpoint(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CRM takes a while to refresh, so the second worker arrives mid-refresh."""
    oauth = w.harness.emulator.oauth
    real = oauth.refresh

    def slow(**kwargs: Any) -> Any:
        time.sleep(0.3)
        return real(**kwargs)

    monkeypatch.setattr(oauth, "refresh", slow)


def _work_items(w: World) -> int:
    with w.rt.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(WorkItem)) or 0)


def test_concurrent_refreshes_by_two_workers_call_the_crm_once(
    team: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_db = Database(team.rt.db.url)
    try:
        workers = [_worker_tokens(team, team.rt.db), _worker_tokens(team, other_db)]
        stale = workers[0].access_token
        assert workers[1].access_token == stale
        version = team.connection().token_version
        _slow_token_endpoint(team, monkeypatch)
        calls = team.harness.emulator.counters.get(*TOKEN)
        start = threading.Barrier(2)
        results: list[str] = []
        errors: list[BaseException] = []

        def work(tokens: ConnectionTokens) -> None:
            try:
                start.wait()
                results.append(asyncio.run(tokens.refresh(stale)))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        assert team.harness.emulator.counters.get(*TOKEN) == calls + 1
        assert len(results) == 2
        assert results[0] == results[1] != stale
        assert workers[0].access_token == workers[1].access_token == results[0]
        assert sum(t.refreshes for t in workers) == 1
        assert team.connection().token_version == version + 1
        status, _ = team.harness.emulator.oauth.check_access_token(results[0])
        assert status == TokenStatus.VALID
    finally:
        other_db.dispose()


def test_a_worker_with_a_stale_token_picks_up_the_saved_one_without_calling_the_crm(
    team: World,
) -> None:
    first, second = _worker_tokens(team, team.rt.db), _worker_tokens(team, team.rt.db)
    stale = first.access_token
    calls = team.harness.emulator.counters.get(*TOKEN)
    fresh = asyncio.run(first.refresh(stale))
    assert asyncio.run(second.refresh(stale)) == fresh
    assert team.harness.emulator.counters.get(*TOKEN) == calls + 1
    assert second.refreshes == 0


def test_a_refused_refresh_marks_needs_reconnect_and_keeps_the_queue(team: World) -> None:
    for pid in ("p1", "p2", "p3"):
        team.person(pid)
        team.unlock("org1", pid, "u-admin")
    queued = _work_items(team)
    assert queued == 3
    tokens = _worker_tokens(team, team.rt.db)
    team.harness.revoke_tokens()
    with pytest.raises(ReconnectRequired, match="refused the refresh token"):
        asyncio.run(tokens.refresh(tokens.access_token))
    status = team.status()
    assert status["status"] == ConnectionStatus.NEEDS_RECONNECT
    assert "refused the refresh token" in status["status_reason"]
    assert status["counts"]["pending"] == 3
    assert _work_items(team) == queued
    assert team.records_by_person() == {}


def test_the_engine_pauses_on_a_refused_refresh_and_drains_after_reconnect(team: World) -> None:
    team.harness.revoke_tokens()
    for pid in ("p1", "p2"):
        team.person(pid)
        team.unlock("org1", pid, "u-admin")
    team.drain()
    status = team.status()
    assert status["status"] == ConnectionStatus.NEEDS_RECONNECT
    assert status["counts"]["pending"] == 2
    assert team.records_by_person() == {}
    assert team.reconnect("org1")["status"] == ConnectionStatus.CONNECTED
    team.drain()
    assert sorted(team.records_by_person()) == ["p1", "p2"]
    assert team.status()["counts"]["pending"] == 0


def test_two_requests_of_one_run_needing_a_refresh_share_it_without_deadlock(
    team: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pipelined batches (or a bulk job beside them) can meet a 401 at the same moment."""
    tokens = _worker_tokens(team, team.rt.db)
    stale = tokens.access_token
    _slow_token_endpoint(team, monkeypatch)
    calls = team.harness.emulator.counters.get(*TOKEN)
    results: list[str] = []

    async def both() -> None:
        results.extend(await asyncio.gather(tokens.refresh(stale), tokens.refresh(stale)))

    runner = threading.Thread(target=lambda: asyncio.run(both()), daemon=True)
    runner.start()
    runner.join(timeout=20)
    assert not runner.is_alive(), "the second refresh blocked the first: deadlock"
    assert len(set(results)) == 1 and results[0] != stale
    assert team.harness.emulator.counters.get(*TOKEN) == calls + 1
