"""``make demo`` twice in a row: the second starts from a clean demo database, whatever the
environment or a ``.env`` file points crmsync at."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmsync.cli import demo
from crmsync.cli.serving import free_port
from crmsync.settings import get_settings


def test_a_second_demo_starts_from_a_clean_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "production.db"
    monkeypatch.chdir(tmp_path)  # the demo keeps its state in ./var/demo
    monkeypatch.setenv("CRMSYNC_DATABASE_URL", f"sqlite:///{shared}")  # e.g. from .env
    monkeypatch.setenv("CRMSYNC_DATA_DIR", str(tmp_path / "elsewhere"))
    get_settings.cache_clear()
    for _ in range(2):  # the second run would find the first run's org and stop
        code = demo.run_demo(once=True, people=6, port=free_port(), emulator_port=_ports(4))
        assert code == 0
    assert not shared.exists(), "the demo wrote to the configured database"
    assert (tmp_path / "var" / "demo" / "crmsync.db").exists()


def _ports(count: int) -> int:
    """A first port whose next ``count - 1`` are free too (the demo serves one emulator per
    CRM on consecutive ports)."""
    import socket

    for _ in range(50):
        first = free_port()
        try:
            for offset in range(count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", first + offset))
        except OSError:
            continue
        return first
    raise AssertionError("no run of free ports")
