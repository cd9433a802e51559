"""Uploaded inputs are deleted once they are older than ``OPENLIPSYNC_UPLOAD_RETENTION_S``.

Magic Hour keeps uploads 7 days (CONTRACT.md sections 3.2 and 6); outputs are not touched here.
An upload's age counts from when its upload URL was handed out, and no upload goes while that
URL still works (a PUT after the purge would leave a file nothing knows of) or while a queued
or rendering job still needs it (it goes at a later sweep, once the job has ended).

Every API and worker process runs the purge; two may take the same uploads at once, and both
deleting a blob or a row that is already gone is no error. The blob goes before its row, so a
store that fails midway leaves the row for the next sweep to try again.
"""

from __future__ import annotations

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from openlipsync.store.blobs import BlobStore
from openlipsync.store.db import Database
from openlipsync.store.models import QUEUED, RENDERING, Project, Upload, now

#: Uploads deleted per transaction; a sweep goes on at once while it finds full batches.
BATCH = 200


def sweep_interval_s(retention_s: float) -> float:
    """How often to look for expired uploads: a small share of the retention, within reason."""
    return min(max(retention_s / 4, 0.5), 600.0)


def _expired(session: Session, retention_s: float, limit: int) -> list[str]:
    moment = now()
    in_use = select(Project.id).where(
        Project.status.in_((QUEUED, RENDERING)),
        or_(Project.video_input == Upload.file_path, Project.audio_input == Upload.file_path),
    )
    query = (select(Upload.file_path)
             .where(Upload.created_at <= moment - retention_s, Upload.expires_at <= moment, ~in_use.exists())
             .order_by(Upload.created_at).limit(limit))
    return list(session.scalars(query))


def purge_expired_uploads(db: Database, blobs: BlobStore, retention_s: float, batch: int = BATCH) -> int:
    """Delete one batch of expired uploads (blob, then row); returns how many were due."""
    with db.session() as session:
        due = _expired(session, retention_s, batch)
    if not due:
        return 0
    for file_path in due:
        blobs.delete(file_path)
    with db.session() as session:
        session.execute(delete(Upload).where(Upload.file_path.in_(due)))
    return len(due)


def check_direct_uploads(db: Database, blobs: BlobStore, max_bytes: int, batch: int = BATCH) -> int:
    """Settle the size of uploads whose presigned URL has expired; returns how many were due.

    An object store takes whatever a presigned PUT sends, and the URL stays valid after the job
    that uses it was accepted, so someone could upload a small file, create the job, then PUT
    gigabytes. The worker's capped download keeps such a file out of renders; this sweep keeps
    it out of the store: once the URL is dead, one HEAD says what the slot holds for good, an
    object over the upload limit is deleted, and the slot counts as never uploaded.
    """
    if not blobs.direct_uploads:
        return 0
    with db.session() as session:
        due = list(session.scalars(select(Upload.file_path)
                                   .where(Upload.expires_at <= now(), Upload.checked_at.is_(None))
                                   .order_by(Upload.expires_at).limit(batch)))
    for file_path in due:
        size = blobs.size(file_path)
        values: dict = {"checked_at": now()}
        if size is not None and size > max_bytes:
            blobs.delete(file_path)
            values.update(size=None, uploaded_at=None)
        elif size is not None:
            values["size"] = size
        with db.session() as session:
            session.execute(update(Upload).where(Upload.file_path == file_path).values(**values))
    return len(due)
