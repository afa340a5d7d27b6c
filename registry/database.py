"""Storage: one engine per node, sessions that commit on success and roll back on any
error, and Alembic migrations. SQLite by default (a file, zero set-up), PostgreSQL by
URL through the same code."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.pool import QueuePool, StaticPool
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend. SQLite keeps no offset, so values
    are stored as naive UTC and given back aware; anything naive going in is refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (SQLAlchemy's default would be psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, say when transactions begin (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL: readers do not block the writer. synchronous=FULL syncs the WAL at every
    # commit, so a commit survives a power loss too (NORMAL would survive only a crash of
    # the process). Foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # A write transaction takes SQLite's write lock at BEGIN (IMMEDIATE): a deferred one
    # that read first fails at once with SQLITE_BUSY when another writer committed in
    # between, where an immediate one simply waits its turn (busy_timeout). Read-only
    # sessions stay deferred, so readers never wait (WAL).
    immediate = connection.get_execution_options().get("sqlite_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, *, pool_size: int = 8, pool_timeout: float = 10.0) -> Engine:
    """An engine whose pool waits at most ``pool_timeout`` seconds for a connection
    (then the request answers 503 with Retry-After, see problems.py)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        memory = not database or database == ":memory:"
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False},
            poolclass=StaticPool if memory else QueuePool,
            **(
                {}
                if memory
                else {"pool_size": pool_size, "max_overflow": pool_size, "pool_timeout": pool_timeout}
            ),
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size + 2,
        max_overflow=pool_size + 2,
        pool_timeout=pool_timeout,
    )


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with Alembic (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


_ON_COMMIT = "registry_on_commit"


def on_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` after ``session``'s transaction has committed, and never if it
    rolls back: in-memory state (a cached key ring, a cleared cache) must not get ahead
    of what the database holds."""
    session.info.setdefault(_ON_COMMIT, []).append(callback)


def run_after_commit(session: Session) -> None:
    """Run the callbacks registered with :func:`on_commit` (after an explicit commit)."""
    for callback in session.info.pop(_ON_COMMIT, []):
        callback()


class Database:
    """The node's engine and its unit-of-work sessions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._write_engine = engine.execution_options(sqlite_write=True)

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(make_engine(url))

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """A unit of work: commits when the block ends normally, rolls back on any
        error, so a failed request or batch leaves nothing behind. ``write=False``
        is for sessions that only read (on SQLite they never wait for a writer).
        Callbacks given to :func:`on_commit` run once the commit has succeeded."""
        with Session(self._write_engine if write else self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                session.info.pop(_ON_COMMIT, None)
                raise
            run_after_commit(session)

    @contextmanager
    def reader(self) -> Iterator[LazyReader]:
        """A read session opened only if something asks for its connection: most
        verifications answer from the node's caches, and an unused session still cost
        about a tenth of one (created, committed, closed)."""
        lazy = LazyReader(self)
        try:
            yield lazy
        finally:
            lazy.close()

    @property
    def write_engine(self) -> Engine:
        """The engine for a write outside a session (SQLite: BEGIN IMMEDIATE)."""
        return self._write_engine

    def dispose(self) -> None:
        self.engine.dispose()


class Connectable(Protocol):
    """What the read paths of verification ask of a session: its connection."""

    def connection(self) -> Connection: ...


class LazyReader:
    """:meth:`Database.reader`: a read-only session made on the first ``connection()``."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._opened: AbstractContextManager[Session] | None = None
        self._session: Session | None = None

    def connection(self) -> Connection:
        if self._session is None:
            self._opened = self._database.session(write=False)
            self._session = self._opened.__enter__()
        return self._session.connection()

    def close(self) -> None:
        if self._opened is not None:
            opened, self._opened, self._session = self._opened, None, None
            opened.__exit__(None, None, None)
