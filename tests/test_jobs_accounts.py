"""The first API key: made once on an empty database, even by processes starting together."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from openlipsync.jobs.accounts.keys import ensure_first_key
from openlipsync.store.db import Database, upgrade
from openlipsync.store.models import ApiKey
from tests.cluster import postgres_database

STARTS = 8


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'keys.db'}"
        upgrade(url)
        database = Database(url)
        yield database
        database.dispose()
        return
    with postgres_database() as url:
        upgrade(url)
        database = Database(url)
        yield database
        database.dispose()


def test_concurrent_first_starts_make_one_key(db):
    start = threading.Barrier(STARTS)

    def first_start() -> str | None:
        start.wait()
        return ensure_first_key(db, 100)

    with ThreadPoolExecutor(STARTS) as pool:
        secrets = list(pool.map(lambda _: first_start(), range(STARTS)))
    assert len([secret for secret in secrets if secret]) == 1, secrets
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ApiKey)) == 1
    assert ensure_first_key(db, 100) is None
