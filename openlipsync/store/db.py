"""Connections to the database, and its schema migrations (Alembic, shipped in the package)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: PostgreSQL advisory lock key held while migrating ("olsm").
MIGRATION_LOCK = 0x6F6C736D
#: PostgreSQL advisory lock key held while creating the first API key ("olfk").
FIRST_KEY_LOCK = 0x6F6C666B


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str) -> Engine:
    """An engine whose transactions are safe for concurrent writers.

    SQLite: every transaction starts with ``BEGIN IMMEDIATE``, so two writers queue on the
    busy timeout instead of one failing with "database is locked" when it upgrades a read
    lock; WAL lets readers go on while a writer works. PostgreSQL needs none of this: the
    conditional UPDATEs the job code uses are atomic there under READ COMMITTED.
    """
    if not _is_sqlite(url):
        return create_engine(url, pool_pre_ping=True)
    path = url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Database:
    """The engine plus a session factory; one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions.begin() as session:
            yield session

    def serialize(self, session: Session, lock: int) -> None:
        """Make the session's transaction the only one holding ``lock`` until it ends, for a
        check-then-insert that two processes must not both pass. PostgreSQL: an advisory lock;
        SQLite transactions are serialized already (``BEGIN IMMEDIATE``)."""
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": lock})

    def ping(self) -> None:
        """Raise unless the database answers a trivial query."""
        with self.session() as session:
            session.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def describe(url: str) -> str:
    """The URL fit to print: its password masked."""
    return make_url(url).render_as_string(hide_password=True)


def has_schema(url: str) -> bool:
    """Whether the database at ``url`` holds openlipsync's tables (it is not created if missing)."""
    engine = make_engine(url)
    try:
        return inspect(engine).has_table("api_keys")
    finally:
        engine.dispose()


def upgrade(url: str) -> None:
    """Bring the schema at ``url`` to the newest revision (what ``openlipsync db upgrade`` runs)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Processes of a cluster start together: one migrates, the others wait, then find
                # the schema current (the lock ends with the transaction).
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
