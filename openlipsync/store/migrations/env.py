"""Alembic environment: runs on the connection ``openlipsync.store.db.upgrade`` hands over,
or, for the ``alembic`` command line, on the URL in ``OPENLIPSYNC_DATABASE_URL`` / settings."""

from __future__ import annotations

from alembic import context

from openlipsync.store.models import Base


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from openlipsync.core.config import get_settings
    from openlipsync.store.db import make_engine

    engine = make_engine(get_settings().resolved_database_url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
