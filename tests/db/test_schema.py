"""The migrations build exactly the models' schema, and timestamps keep their stored form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, select, text
from sqlalchemy.dialects import sqlite

from crmsync.db import migrate
from crmsync.db.session import Database
from crmsync.db.tables import Base, Org
from crmsync.db.types import Timestamp


def test_the_migrations_build_the_schema_the_models_describe(db_url: str) -> None:
    migrate.upgrade(db_url)
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_sqlite_timestamps_keep_the_text_sqlalchemy_datetime_wrote(tmp_path: object) -> None:
    """Databases written before ``Timestamp`` hold SQLAlchemy's DATETIME text, and SQLite
    compares timestamps as text: the new form must be the same, byte for byte."""
    moment = datetime(2026, 11, 23, 3, 4, 5, 60)
    ours = Timestamp().bind_processor(sqlite.dialect())
    theirs = sqlite.DATETIME().bind_processor(sqlite.dialect())
    assert ours is not None and theirs is not None
    for value in (moment, moment.replace(microsecond=0), moment.replace(tzinfo=UTC)):
        assert ours(value) == theirs(value)
    assert ours(moment) == "2026-11-23 03:04:05.000060"
    east = timezone(timedelta(hours=2))
    eastern = moment.replace(tzinfo=east)
    for _ in range(2):  # a value formatted last is remembered: by identity, never by equality
        assert ours(eastern) == "2026-11-23 01:04:05.000060", "stored as UTC"
    assert ours(moment) == "2026-11-23 03:04:05.000060"
    assert ours(None) is None


def test_timestamps_read_back_as_written(db_url: str) -> None:
    migrate.upgrade(db_url)
    db = Database(db_url)
    written = datetime(2026, 11, 23, 3, 4, 5, 123456, tzinfo=UTC)
    with db.session() as session:
        session.add(Org(id="o", name="o", created_at=written))
    with db.session() as session:
        read = session.scalar(select(Org.created_at))
        raw = session.execute(text("SELECT created_at FROM orgs")).scalar()
    assert read is not None
    assert read.replace(tzinfo=read.tzinfo or UTC) == written
    if db_url.startswith("sqlite"):
        assert raw == "2026-11-23 03:04:05.123456"
    db.dispose()
