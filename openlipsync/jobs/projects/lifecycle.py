"""State changes of a project after it is queued, each one transaction guarded by the row's state.

queued -> rendering (claim) -> complete (settle) | error (refund). A worker holds a claim token
and a lease it renews; only the holder of a live claim may settle. A claim whose lease ran out
belongs to a dead worker: ``recover`` puts the job back in the queue, or fails and refunds it
after ``max_attempts``. So every job ends, and credits move exactly once.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from openlipsync.core.config import Settings
from openlipsync.core.metrics import JOB_FAILURES, JOBS_COMPLETED
from openlipsync.jobs.accounts import credits, quotas
from openlipsync.jobs.delivery.webhooks import COMPLETED, ERRORED, STARTED
from openlipsync.store.db import Database
from openlipsync.store.models import COMPLETE, ERROR, QUEUED, RENDERING, ApiKey, Project, now

#: Records a webhook event in the session of the state change: (session, project, event).
Emit = Callable[[Session, Project, str], None]


@dataclass(frozen=True)
class Claim:
    token: str
    #: What the render process needs, as plain data.
    job: dict


def _job(project: Project) -> dict:
    job = {key: getattr(project, key) for key in (
        "id", "mode", "start_seconds", "end_seconds", "max_fps_limit", "video_source", "video_input",
        "youtube_url", "audio_input", "request_id")}
    return {**job, "face": json.loads(project.face) if project.face else None}


def _locked(session: Session, project_id: str) -> Project | None:
    return session.get(Project, project_id, with_for_update=True, populate_existing=True)


def claim(db: Database, project_id: str, settings: Settings, emit: Emit) -> Claim | None:
    """Take a queued job for this worker; None if it is not (or no longer) queued, or if its key
    renders ``max_concurrent_jobs`` already (the job stays queued and the next sweep submits it
    again, so other keys' jobs go first meanwhile)."""
    token = secrets.token_hex(8)
    lease_s = settings.lease_s
    with db.session() as session:
        waiting = session.get(Project, project_id)
        if waiting is None or waiting.status != QUEUED or not waiting.enabled:
            return None
        quotas.lock_key(db, session, waiting.key_id)
        limits = quotas.KeyLimits.of(session.get(ApiKey, waiting.key_id), settings)
        if not quotas.may_start(session, waiting.key_id, limits):
            return None
        moment = now()
        won = session.execute(
            update(Project).where(Project.id == project_id, Project.status == QUEUED, Project.enabled)
            .values(status=RENDERING, claim_token=token, lease_until=moment + lease_s, progress=0.0,
                    attempts=Project.attempts + 1, started_at=moment)
        ).rowcount
        if not won:
            return None
        project = session.get(Project, project_id, populate_existing=True)
        if project.attempts == 1:
            emit(session, project, STARTED)
        return Claim(token, _job(project))


def heartbeat(db: Database, project_id: str, token: str, lease_s: float, progress: float) -> bool:
    """Renew the lease; False when the claim is gone (the job was deleted or taken over)."""
    with db.session() as session:
        return session.execute(
            update(Project).where(Project.id == project_id, Project.claim_token == token,
                                  Project.status == RENDERING)
            .values(lease_until=now() + lease_s, progress=progress)
        ).rowcount == 1


def _holds(project: Project | None, token: str) -> bool:
    """Whether the claim ``token`` still owns the job: rendering, its token, its lease not run out."""
    return (project is not None and project.status == RENDERING and project.claim_token == token
            and project.lease_until is not None and project.lease_until >= now())


def complete(db: Database, project_id: str, token: str, summary: dict, output_key: str, emit: Emit) -> bool:
    """Publish the attempt's output and settle the credits to the frames rendered; False unless
    this attempt still holds the lease (then the output is the caller's to delete)."""
    with db.session() as session:
        project = _locked(session, project_id)
        if not _holds(project, token):
            return False
        actual = credits.frame_cost(summary["frames"], project.mode)
        project.credits_charged = credits.settle(session, project.key_id, project.credits_charged, actual)
        project.status, project.progress, project.finished_at = COMPLETE, 1.0, now()
        project.fps, project.frames = summary["fps"], summary["frames"]
        project.end_seconds = summary["end_seconds"]  # the clip may end before the range asked for
        project.width, project.height = summary["width"], summary["height"]
        project.notes = json.dumps(summary.get("notes") or [])
        project.output_key, project.lease_until = output_key, None
        emit(session, project, COMPLETED)
        JOBS_COMPLETED.labels(project.mode).inc()
        return True


def _fail(session: Session, project: Project, code: str, message: str, emit: Emit) -> None:
    credits.refund(session, project.key_id, project.credits_charged)
    JOB_FAILURES.labels(code).inc()
    project.credits_charged = 0
    project.status, project.error_code, project.error_message = ERROR, code, message
    project.finished_at, project.lease_until = now(), None
    emit(session, project, ERRORED)


def fail(db: Database, project_id: str, token: str, code: str, message: str, emit: Emit) -> bool:
    """Mark the job failed and refund it in full; False if the claim is gone."""
    with db.session() as session:
        project = _locked(session, project_id)
        if project is None or project.status != RENDERING or project.claim_token != token:
            return False
        _fail(session, project, code, message, emit)
        return True


def release(db: Database, project_id: str, token: str) -> None:
    """Give a job back to the queue uncounted (the server is shutting down, not the job failing)."""
    with db.session() as session:
        session.execute(
            update(Project).where(Project.id == project_id, Project.claim_token == token,
                                  Project.status == RENDERING)
            .values(status=QUEUED, claim_token=None, lease_until=None, progress=0.0,
                    attempts=Project.attempts - 1)
        )


def recover(db: Database, max_attempts: int, emit: Emit) -> list[str]:
    """Re-queue (or fail and refund) jobs whose worker died; returns every job waiting in the queue."""
    with db.session() as session:
        stale = session.scalars(
            select(Project).where(Project.status == RENDERING, Project.lease_until < now()).with_for_update()
        ).all()
        for project in stale:
            if project.attempts < max_attempts:
                project.status, project.claim_token, project.lease_until = QUEUED, None, None
                project.progress = 0.0
            else:
                _fail(session, project, "unknown_error",
                      f"the worker rendering this job stopped {project.attempts} times; giving up", emit)
        return list(session.scalars(
            select(Project.id).where(Project.status == QUEUED, Project.enabled).order_by(Project.created_at)
        ))
