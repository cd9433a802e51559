"""Database tables: the single source of truth for keys, credits, uploads, projects and webhooks.

Times are Unix seconds (floats) everywhere: they compare the same way in SQLite and PostgreSQL
and never meet a naive/aware timezone mix-up.
"""

from __future__ import annotations

import secrets
import time

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Project states, as Magic Hour names them (``draft`` is never used).
QUEUED, RENDERING, COMPLETE, ERROR, CANCELED = "queued", "rendering", "complete", "error", "canceled"
TERMINAL = (COMPLETE, ERROR, CANCELED)


def new_id() -> str:
    """Opaque lowercase id, safe in URL paths and blob keys."""
    return secrets.token_hex(12)


def now() -> float:
    return time.time()


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    """An API key is an account: it owns credits, uploads and projects."""

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint("credits >= 0", name="credits_not_negative"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    #: SHA-256 of the secret; the secret itself is shown once and never stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: First characters of the secret, so an operator can tell keys apart in listings.
    prefix: Mapped[str] = mapped_column(String(16))
    credits: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float, default=now)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: JSON object of per-key limits that replace the settings' defaults (``jobs/accounts/quotas.py``).
    limits: Mapped[str | None] = mapped_column(Text, nullable=True)


class RateWindow(Base):
    """Requests of one key in one minute, when no Redis is there to count them (``store/counters.py``)."""

    __tablename__ = "rate_windows"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: Unix minute (seconds // 60).
    window: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Upload(Base):
    """An upload slot handed out by ``POST /v1/files/upload-urls``; filled by the signed PUT."""

    __tablename__ = "uploads"

    file_path: Mapped[str] = mapped_column(String(200), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    extension: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Float, default=now)
    expires_at: Mapped[float] = mapped_column(Float)
    uploaded_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: When the object store was asked, after the upload URL expired, what the slot really holds
    #: (a presigned PUT cannot be refused, so its size is settled only once the URL is dead).
    checked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Project(Base):
    """One lip-sync job and, once done, its output."""

    __tablename__ = "projects"
    __table_args__ = (Index("ix_projects_status_lease", "status", "lease_until"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(500), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    mode: Mapped[str] = mapped_column(String(16))
    start_seconds: Mapped[float] = mapped_column(Float)
    end_seconds: Mapped[float] = mapped_column(Float)
    max_fps_limit: Mapped[float | None] = mapped_column(Float, nullable=True)
    video_source: Mapped[str] = mapped_column(String(16))
    #: An ``api-assets/...`` upload or an http(s) URL; None for YouTube.
    video_input: Mapped[str | None] = mapped_column(Text, nullable=True)
    youtube_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    audio_input: Mapped[str] = mapped_column(Text)
    #: Where the creating request came from, so links in webhooks match links in GETs.
    public_base_url: Mapped[str] = mapped_column(Text)
    #: Credits charged at queue time (the 30 fps estimate).
    estimate: Mapped[int] = mapped_column(Integer)
    #: The estimate until the job ends; then the settled amount (0 after a refund).
    credits_charged: Mapped[int] = mapped_column(Integer)
    fps: Mapped[float] = mapped_column(Float)
    width: Mapped[int] = mapped_column(Integer, default=-1)
    height: Mapped[int] = mapped_column(Integer, default=-1)
    frames: Mapped[int | None] = mapped_column(Integer, nullable=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: JSON list of the engine's notes.
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    output_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    #: False once deleted; the row stays for the books.
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Set by the worker that claimed the job; only that worker may settle it.
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: The claim is void after this time unless renewed (the worker's heartbeat).
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float, default=now)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: The ``X-Request-Id`` of the creating API call; the render's log lines carry it too.
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: JSON object of the face picked to speak, ``{"x", "y"[, "time"]}`` (input pixels, seconds)
    #: or ``{"index"}``; None lets the engine choose.
    face: Mapped[str | None] = mapped_column(Text, nullable=True)


class Webhook(Base):
    """An operator-registered endpoint; ``key_id`` None receives the events of every key."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(100))
    key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Float, default=now)


class WebhookDelivery(Base):
    """One event for one endpoint, with its body frozen at the time of the event."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    #: pending, delivered or failed.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float, default=now)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float, default=now)
    delivered_at: Mapped[float | None] = mapped_column(Float, nullable=True)
