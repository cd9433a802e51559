"""Per-minute request counters shared by every process of an installation.

Redis counts when there is a broker (one round trip, nothing written to the database); without
one the database counts, so API processes sharing a PostgreSQL database still share one budget.
A counter that cannot be reached lets the request through: a limit is worth less than the
service it protects.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from openlipsync.store.db import Database
from openlipsync.store.models import RateWindow

log = logging.getLogger(__name__)

#: Redis key of one key's count in one minute.
REDIS_KEY = "openlipsync:rate:{key_id}:{window}"


class RequestCounter(ABC):
    @abstractmethod
    def hit(self, key_id: str, window: int) -> int:
        """Count one request of ``key_id`` in minute ``window``; the count including it."""


class RedisCounter(RequestCounter):
    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._errors = (redis.RedisError,)

    def hit(self, key_id: str, window: int) -> int:
        name = REDIS_KEY.format(key_id=key_id, window=window)
        try:
            pipe = self._redis.pipeline()
            pipe.incr(name)
            pipe.expire(name, 120)
            return int(pipe.execute()[0])
        except self._errors as exc:
            log.warning("request counter unavailable (%s); not limiting", type(exc).__name__)
            return 0


class DatabaseCounter(RequestCounter):
    def __init__(self, db: Database) -> None:
        self._db = db

    def hit(self, key_id: str, window: int) -> int:
        with self._db.session() as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            statement = (insert(RateWindow).values(key_id=key_id, window=window, count=1)
                         .on_conflict_do_update(index_elements=[RateWindow.key_id, RateWindow.window],
                                                set_={"count": RateWindow.count + 1})
                         .returning(RateWindow.count))
            count = int(session.execute(statement).scalar_one())
            if count == 1:  # the key's first request this minute: drop its finished minutes
                session.execute(delete(RateWindow).where(RateWindow.key_id == key_id,
                                                         RateWindow.window < window))
            return count


def make_counter(db: Database, broker_url: str | None) -> RequestCounter:
    """Redis when the installation has a broker, else its database."""
    return RedisCounter(broker_url) if broker_url else DatabaseCounter(db)
