"""The prescreen database: its engine, its schema (`bot.db.schema`), its
migrations (`bot/db/migrations`, Alembic) and its full-text search
(`bot.db.search`).

`open_engine(url)` makes the SQLAlchemy engine with the settings a turn needs
(SQLite: WAL, foreign keys on, a busy timeout; PostgreSQL through psycopg 3).
`upgrade(engine)` brings any database to the current schema in one
transaction, one process at a time (several workers may start together):

- a new, empty database gets every table (`metadata.create_all`) and is stamped
  with the newest revision;
- a database of release 0.1 or earlier (tables but no `alembic_version`) runs
  every migration, the first of which creates what it lacks of release 0.1;
- any other database runs the migrations it has not had yet.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Connection, Engine

from bot.db import search
from bot.db.schema import metadata

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
PG_UPGRADE_LOCK = 7262001   # pg_advisory_xact_lock key: one process at a time upgrades


class SchemaOutOfDate(Exception):
    """The database is not at the current schema and automatic upgrades are off."""


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    """The newest revision."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def open_engine(url: str, busy_timeout_ms: int = 5000) -> Engine:
    """The engine for a database URL (`sqlite:///…`, whose folder is created, or `postgresql://…`)."""
    if url.startswith("sqlite"):
        path = url[len("sqlite:///"):]
        if url.startswith("sqlite:///") and path not in ("", ":memory:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # a pool keeps connections open: closing SQLite's last connection checkpoints the WAL (milliseconds)
        engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
                               pool_size=8, max_overflow=16, pool_timeout=30)
        _sqlite_setup(engine, busy_timeout_ms)
        return engine
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _sqlite_setup(engine: Engine, busy_timeout_ms: int) -> None:
    """WAL, foreign keys (ON DELETE CASCADE), a busy timeout; `BEGIN IMMEDIATE` for a connection
    with the `immediate` execution option, so that it holds the write lock from its start."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None   # SQLAlchemy's BEGIN below, not the driver's
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA secure_delete=ON")   # deleted rows are overwritten (bot/db/forget.py)
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        immediate = conn.get_execution_options().get("immediate")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    """A write transaction that holds the write lock from its start on SQLite (BEGIN IMMEDIATE,
    waiting up to the busy timeout): a deferred transaction that reads, then writes, fails at once
    with "database is locked" when another writer came in between (a burst of log-ins)."""
    with engine.connect() as conn:
        with conn.execution_options(immediate=True).begin():
            yield conn


def current_revision(engine: Engine) -> str | None:
    """The database's revision (None: a new database, or one of release 0.1)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> str:
    """Bring the database to the newest revision; returns it."""
    sqlite = engine.dialect.name == "sqlite"
    newest = head()
    with engine.connect() as conn:
        if MigrationContext.configure(conn).get_current_revision() == newest:
            return newest    # the common case, without taking any lock
        conn.rollback()
        sqlite_conn = conn.connection.driver_connection if sqlite else None
        if sqlite_conn:   # a table copied by a migration must not cascade (outside a transaction)
            sqlite_conn.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.execution_options(immediate=True).begin():
                if not sqlite:
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_UPGRADE_LOCK})")
                _upgrade_locked(conn, newest)
        finally:
            if sqlite_conn:
                sqlite_conn.execute("PRAGMA foreign_keys=ON")
    return newest


def _upgrade_locked(conn: Connection, newest: str) -> None:
    context = MigrationContext.configure(conn)
    current = context.get_current_revision()
    if current == newest:   # another process did it while this one waited
        return
    config = alembic_config()
    config.attributes["connection"] = conn
    if current is None and not inspect(conn).has_table("conversations"):
        metadata.create_all(conn)
        search.for_dialect(conn.dialect.name).install(conn)
        command.stamp(config, newest)
        return
    command.upgrade(config, newest)   # from release 0.1 (or earlier): 0001 adds what it lacks
    if conn.dialect.name == "sqlite":
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"the upgrade left {len(broken)} row(s) without their conversation")
