"""Engines and sessions: SQLite in WAL mode by default, PostgreSQL by URL."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from crmsync import jsoncodec


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = make_url(url).database  # None or "" for ``sqlite://``: in memory
        if path and path != ":memory:" and not path.startswith("file:"):
            private_sqlite_file(Path(path))
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=jsoncodec.dumps,
            json_deserializer=jsoncodec.loads,
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        json_serializer=jsoncodec.dumps,
        json_deserializer=jsoncodec.loads,
        **kwargs,
    )
    if engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgresql_settings)
    return engine


def private_sqlite_file(path: Path) -> None:
    """The embedded database holds people and sealed tokens: only this user reads it.

    A directory created here is 0700. The file is created 0600 before SQLite opens it (an
    empty file is an empty database), and SQLite gives the -wal and -shm files the mode of
    the database file. A database from before, left world-readable, is tightened (its
    directory, which may be the operator's own, is left as it is)."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for file in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        if file.exists() and file.stat().st_mode & 0o077:
            file.chmod(0o600)


def _postgresql_settings(dbapi_conn: Any, _record: Any) -> None:
    # psycopg prepares a statement on its fifth run, and PostgreSQL may then keep one generic
    # plan for it. The work tables grow from nothing to millions of rows and back within a
    # backfill: a plan made while ``links`` was empty scanned the whole table on every batch
    # (34 ms a batch at 25,000 links, until an ANALYZE). Plan each run with its parameters.
    with dbapi_conn.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_custom_plan")
    dbapi_conn.commit()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy issue BEGIN itself (see _sqlite_begin_immediate).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # Writers queue on the database lock at BEGIN instead of failing mid-transaction.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


T = TypeVar("T")


class Database:
    """An engine plus its session factory; one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    def transaction(self, work: Callable[[Session], T], attempts: int = 4) -> T:
        """``work`` in one transaction, run again if PostgreSQL rolled it back to break a
        deadlock or a serialization conflict (nothing of a rolled-back attempt is kept).

        Host writes lock many people's pending work items in person order while a worker
        recording a batch locks some of the same rows in its own order; one of the two is
        chosen as the deadlock victim and simply runs again. ``work`` must not change
        anything outside the session."""
        for attempt in range(1, attempts + 1):
            try:
                with self.session() as session:
                    return work(session)
            except Exception as exc:
                # through SQLAlchemy (wrapped) or straight from the driver (``db.setwrites``'s COPY)
                orig = exc.orig if isinstance(exc, DBAPIError) else exc
                if getattr(orig, "sqlstate", None) not in RETRYABLE or attempt == attempts:
                    raise
                time.sleep(random.uniform(0.02, 0.1) * attempt)
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()


RETRYABLE = {"40P01", "40001"}
"""PostgreSQL's "deadlock detected" and "could not serialize"."""
