"""Per-key limits, so that one key cannot starve the others or fill the disks.

Every limit has a default in the settings and may be replaced for one key by an operator
(``openlipsync keys limits``; stored as JSON in ``api_keys.limits``); 0 means no limit. The
counts come from the database, the single source of truth every process shares, and each check
runs in the transaction that acts on it, under a per-key lock, so two processes cannot both
take the last place. Requests per minute are counted by ``store/counters.py``.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, fields

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openlipsync.core.config import Settings
from openlipsync.jobs.errors import LimitReached, NotFound
from openlipsync.store.counters import RequestCounter
from openlipsync.store.db import Database
from openlipsync.store.models import QUEUED, RENDERING, ApiKey, Project, Upload, now


@dataclass(frozen=True)
class KeyLimits:
    """One key's limits; field ``x`` defaults to the setting of the same name below (0: none)."""

    rate_limit_per_minute: int
    max_concurrent_jobs: int
    max_queued_jobs: int
    max_pending_uploads: int
    max_upload_storage_bytes: int

    @classmethod
    def of(cls, key: ApiKey, settings: Settings) -> KeyLimits:
        overrides = json.loads(key.limits) if key.limits else {}
        return cls(**{f.name: int(overrides.get(f.name, getattr(settings, f.name))) for f in fields(cls)})


LIMIT_NAMES = tuple(f.name for f in fields(KeyLimits))


def _over(count: int, limit: int) -> bool:
    return limit > 0 and count >= limit


def lock_key(db: Database, session: Session, key_id: str) -> None:
    """Serialize the key's check-then-act transactions (PostgreSQL; SQLite is serial already)."""
    db.serialize(session, int.from_bytes(hashlib.sha256(key_id.encode()).digest()[:7], "big"))


def check_rate(counter: RequestCounter, key_id: str, limits: KeyLimits) -> None:
    """Count the request; LimitReached (429, Retry-After: to the next minute) past the limit."""
    if not limits.rate_limit_per_minute:
        return
    moment = time.time()
    window = int(moment // 60)
    if counter.hit(key_id, window) > limits.rate_limit_per_minute:
        raise LimitReached(f"Too many requests: this key may make {limits.rate_limit_per_minute} "
                           "requests a minute", retry_after_s=max(1, 60 - int(moment % 60)))


def stored_upload_bytes(session: Session, key_id: str) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(Upload.size), 0))
                              .where(Upload.key_id == key_id, Upload.uploaded_at.is_not(None))))


def check_new_uploads(session: Session, key_id: str, limits: KeyLimits, count: int) -> None:
    """Before handing out ``count`` upload slots: pending slots and stored bytes under the limits."""
    pending = session.scalar(select(func.count()).select_from(Upload).where(
        Upload.key_id == key_id, Upload.uploaded_at.is_(None), Upload.expires_at > now()))
    if limits.max_pending_uploads and pending + count > limits.max_pending_uploads:
        raise LimitReached(f"Too many upload URLs: this key has {pending} not yet used and may have "
                           f"{limits.max_pending_uploads}; upload to them or wait until they expire")
    stored = stored_upload_bytes(session, key_id)
    if _over(stored, limits.max_upload_storage_bytes):
        raise LimitReached(f"Upload storage full: this key's uploads take {stored} bytes of its "
                           f"{limits.max_upload_storage_bytes}; delete projects, or wait until old uploads "
                           "expire", retry_after_s=3600)


def upload_room(session: Session, key_id: str, limits: KeyLimits) -> int | None:
    """Bytes the key may still store; None when unlimited."""
    if not limits.max_upload_storage_bytes:
        return None
    return max(limits.max_upload_storage_bytes - stored_upload_bytes(session, key_id), 0)


def check_new_job(session: Session, key_id: str, limits: KeyLimits) -> None:
    """Before queueing a job: the key's queued and rendering jobs under ``max_queued_jobs``."""
    active = session.scalar(select(func.count()).select_from(Project).where(
        Project.key_id == key_id, Project.status.in_((QUEUED, RENDERING))))
    if _over(active, limits.max_queued_jobs):
        raise LimitReached(f"Too many jobs: this key has {active} queued or rendering and may have "
                           f"{limits.max_queued_jobs}; wait for some to finish")


def may_start(session: Session, key_id: str, limits: KeyLimits) -> bool:
    """Whether one more of the key's jobs may render now (``max_concurrent_jobs``)."""
    rendering = session.scalar(select(func.count()).select_from(Project).where(
        Project.key_id == key_id, Project.status == RENDERING))
    return not _over(rendering, limits.max_concurrent_jobs)


def set_limits(db: Database, key_id: str, changes: dict[str, int | None]) -> dict[str, int]:
    """Replace (a value) or reset to the default (None) some of a key's limits; the overrides after."""
    unknown = set(changes) - set(LIMIT_NAMES)
    if unknown:
        raise ValueError(f"unknown limits {sorted(unknown)}")
    with db.session() as session:
        key = session.get(ApiKey, key_id)
        if key is None:
            raise NotFound(f"no key with id {key_id!r}")
        overrides = json.loads(key.limits) if key.limits else {}
        for name, value in changes.items():
            if value is None:
                overrides.pop(name, None)
            elif value < 0:
                raise ValueError(f"{name} must be 0 (no limit) or more, not {value}")
            else:
                overrides[name] = value
        key.limits = json.dumps(overrides, sort_keys=True) if overrides else None
        return overrides


def effective(key: ApiKey, settings: Settings) -> dict[str, int]:
    """The limits in force for ``key``, for listings."""
    return asdict(KeyLimits.of(key, settings))
