"""The embedded database is private: its directory 0700, the database and its -wal and -shm
files 0600, like the key file next to them (the database holds people and sealed tokens)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from crmsync.db import migrate
from crmsync.db.session import Database
from crmsync.settings import Settings


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common 022, which leaves new files world-readable unless told otherwise."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_data_directory_and_database_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "var"
    url = f"sqlite:///{data}/crmsync.db"
    migrate.upgrade(url)
    db = Database(url)
    try:
        with db.session() as session:  # an open connection in WAL mode: -wal and -shm exist
            session.execute(text("INSERT INTO orgs (id, name, created_at) VALUES ('o', 'o', '')"))
            files = [data / "crmsync.db", data / "crmsync.db-wal", data / "crmsync.db-shm"]
            assert all(f.exists() for f in files), sorted(p.name for p in data.iterdir())
            assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
        assert mode(data) == 0o700
    finally:
        db.dispose()


def test_a_database_created_world_readable_is_made_private(tmp_path: Path) -> None:
    """Installations from before: the database is tightened when opened, the directory kept
    (it may be the operator's own)."""
    path = tmp_path / "old.db"
    migrate.upgrade(f"sqlite:///{path}")
    os.chmod(path, 0o644)
    os.chmod(tmp_path, 0o755)
    db = Database(f"sqlite:///{path}")
    try:
        with db.session() as session:
            session.execute(text("SELECT 1"))
        assert mode(path) == 0o600
        assert mode(tmp_path) == 0o755  # the directory existed: left as it was
    finally:
        db.dispose()


def test_the_key_file_directory_is_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "keys", encryption_key="")
    Fernet(settings.resolved_encryption_key())
    assert mode(tmp_path / "keys") == 0o700
    assert mode(tmp_path / "keys" / "secret.key") == 0o600


def test_an_in_memory_database_creates_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sqlite://`` (no path) is in memory: nothing is created where the process runs."""
    monkeypatch.chdir(tmp_path)
    for url in ("sqlite://", "sqlite:///:memory:"):
        db = Database(url)
        with db.session() as session:
            session.execute(text("SELECT 1"))
        db.dispose()
    assert list(tmp_path.iterdir()) == []
