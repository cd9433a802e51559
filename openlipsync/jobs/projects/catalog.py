"""Creating, reading and deleting lip-sync projects on behalf of an API key."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlparse

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from openlipsync.core.logs import REQUEST_ID
from openlipsync.core.metrics import CREDITS_CHARGED
from openlipsync.jobs.accounts import credits, quotas
from openlipsync.jobs.accounts.quotas import KeyLimits
from openlipsync.jobs.errors import InsufficientCredits, InvalidRequest, NotFound, Unprocessable
from openlipsync.jobs.queue.transport import JobQueue
from openlipsync.store.blobs import BlobStore
from openlipsync.store.db import Database
from openlipsync.store.models import CANCELED, COMPLETE, QUEUED, RENDERING, ApiKey, Project, Upload, now


@dataclass(frozen=True)
class ProjectSpec:
    """A validated ``POST /v1/lip-sync`` body (see ``api/schemas.py``)."""

    start_seconds: float
    end_seconds: float
    mode: str
    video_source: str
    audio_input: str
    video_input: str | None = None
    youtube_url: str | None = None
    max_fps_limit: float | None = None
    name: str | None = None
    #: Whose mouth to re-animate: ``{"x", "y"[, "time"]}`` or ``{"index"}``; None: the engine chooses.
    face: dict | None = None


def is_url(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def _check_input(session: Session, key_id: str, value: str, field: str) -> None:
    """An input is an http(s) URL or a file this key uploaded and still has; anything else,
    expired uploads included (``retention.py`` deletes their rows), does not exist."""
    if is_url(value):
        return
    upload = session.get(Upload, value) if value.startswith("api-assets/") else None
    if upload is None or upload.key_id != key_id or upload.uploaded_at is None:
        raise InvalidRequest(
            f"file path '{value}' does not exist. Please make sure that the value matches the "
            f"'file_path' returned by POST /v1/files/upload-urls (after the file was uploaded; uploads "
            f"are deleted after the retention period), "
            f"or is an http(s) URL ({field})"
        )


def _estimate(spec: ProjectSpec, max_frames: int) -> tuple[int, float]:
    """Credits charged at queue time, and the fps shown until the render knows the real one."""
    if spec.end_seconds <= spec.start_seconds:
        raise InvalidRequest(f"end_seconds ({spec.end_seconds:g}) must be greater than start_seconds "
                             f"({spec.start_seconds:g})")
    # Compared as a float first: 1e308 seconds is no frame count (ceil would overflow).
    if (spec.end_seconds - spec.start_seconds) * credits.ESTIMATE_FPS > max_frames:
        raise Unprocessable(f"the clip is longer than the limit of {max_frames} frames at "
                            f"{credits.ESTIMATE_FPS} fps (end_seconds - start_seconds is too long)")
    frames = credits.estimate_frames(spec.start_seconds, spec.end_seconds)
    fps = min(float(credits.ESTIMATE_FPS), spec.max_fps_limit or float(credits.ESTIMATE_FPS))
    return credits.frame_cost(frames, spec.mode), fps


def create_project(db: Database, queue: JobQueue, key_id: str, limits: KeyLimits, spec: ProjectSpec,
                   base_url: str, max_frames: int) -> Project:
    """Validate, charge the estimate and queue, atomically: a short balance or a key with its
    queue full creates nothing."""
    cost, fps = _estimate(spec, max_frames)
    name = spec.name or f"Lip Sync - {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M:%S')}"
    with db.session() as session:
        quotas.lock_key(db, session, key_id)
        quotas.check_new_job(session, key_id, limits)
        _check_input(session, key_id, spec.audio_input, "assets.audio_file_path")
        if spec.video_source == "file":
            _check_input(session, key_id, spec.video_input, "assets.video_file_path")
        if not credits.charge(session, key_id, cost):
            balance = session.get(ApiKey, key_id).credits
            raise InsufficientCredits(f"Payment required: this job costs {cost} credits and the "
                                      f"balance is {balance}")
        project = Project(
            key_id=key_id, name=name, status=QUEUED, mode=spec.mode, start_seconds=spec.start_seconds,
            end_seconds=spec.end_seconds, max_fps_limit=spec.max_fps_limit, video_source=spec.video_source,
            video_input=spec.video_input if spec.video_source == "file" else None,
            youtube_url=spec.youtube_url if spec.video_source == "youtube" else None,
            audio_input=spec.audio_input, public_base_url=base_url, estimate=cost, credits_charged=cost,
            fps=fps, width=-1, height=-1, progress=0.0, enabled=True, attempts=0, created_at=now(),
            request_id=REQUEST_ID.get(), face=json.dumps(spec.face) if spec.face else None,
        )
        session.add(project)
        CREDITS_CHARGED.inc(cost)
    queue.submit(project.id)
    return project


def get_project(db: Database, key_id: str, project_id: str) -> Project:
    """The key's own, not deleted project; NotFound for anything else (no telling which)."""
    with db.session() as session:
        project = session.get(Project, project_id)
        if project is None or project.key_id != key_id or not project.enabled:
            raise NotFound()
        return project


def downloadable_output(db: Database, project_id: str) -> str | None:
    """The blob key of a finished, not deleted project's output; None when there is nothing to
    download. The signed link already proved who may download it, so no key is checked here."""
    with db.session() as session:
        project = session.get(Project, project_id)
        return project.output_key if project and project.enabled and project.status == COMPLETE else None


def list_projects(db: Database, key_id: str, limit: int) -> list[Project]:
    """The key's live projects, newest first."""
    with db.session() as session:
        query = (select(Project).where(Project.key_id == key_id, Project.enabled)
                 .order_by(Project.created_at.desc(), Project.id.desc()).limit(limit))
        return list(session.scalars(query))


def _unshared_inputs(session: Session, project: Project) -> list[str]:
    """Uploads of this project that no other live project of the key still uses."""
    refs = (project.audio_input, project.video_input)
    mine = {ref for ref in refs if ref and ref.startswith("api-assets/")}
    if not mine:
        return []
    others = session.execute(
        select(Project.audio_input, Project.video_input)
        .where(Project.key_id == project.key_id, Project.enabled, Project.id != project.id)
    ).all()
    used = {ref for row in others for ref in row if ref}
    return sorted(mine - used)


def unrendered_refund(project: Project) -> int:
    """What canceling the job gives back: everything while queued; while rendering, the share of
    the work not done yet (``progress``, as last reported by the worker's heartbeat), so a job
    deleted just before it ends does not render for free."""
    if project.status == QUEUED:
        return project.credits_charged
    return project.credits_charged - math.ceil(project.credits_charged * min(max(project.progress, 0.0), 1.0))


def delete_project(db: Database, blobs: BlobStore, key_id: str, project_id: str) -> None:
    """Delete for good: the output and the inputs go; a job still queued is canceled and refunded
    in full, a rendering one for the part not rendered (its worker notices at its next heartbeat
    and stops)."""
    with db.session() as session:
        project = session.get(Project, project_id, with_for_update=True, populate_existing=True)
        if project is None or project.key_id != key_id or not project.enabled:
            raise NotFound()
        if project.status in (QUEUED, RENDERING):
            refund = unrendered_refund(project)
            credits.refund(session, key_id, refund)
            project.credits_charged -= refund
            project.status, project.claim_token, project.lease_until = CANCELED, None, None
            project.finished_at = now()
        project.enabled = False
        inputs = _unshared_inputs(session, project)
        if inputs:
            session.execute(delete(Upload).where(Upload.file_path.in_(inputs)))
        doomed = inputs + ([project.output_key] if project.output_key else [])
        project.output_key = None
    for key in doomed:
        blobs.delete(key)
