"""The one settings object. Every knob comes from an ``OPENLIPSYNC_*`` environment variable.

One object instead of scattered ``os.getenv`` calls, so that the API, the worker processes and
the command line all see the same values and the README can list them in one place.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: Shortest accepted ``OPENLIPSYNC_SECRET_KEY``: a short key can be guessed offline from one link.
MIN_SECRET_CHARS = 32


class Settings(BaseSettings):
    """Service settings; field ``x`` is read from ``OPENLIPSYNC_X``."""

    model_config = SettingsConfigDict(env_prefix="OPENLIPSYNC_", extra="ignore")

    #: Holds the SQLite database, the blob folder and the signing secret by default.
    data_dir: Path = Path("./openlipsync-data")
    #: SQLAlchemy URL; default ``sqlite:///<data_dir>/openlipsync.db``.
    database_url: str | None = None
    #: Where uploads and outputs live; default ``file://<data_dir>/blobs``. ``s3://bucket/prefix``
    #: puts them in an S3-compatible store: clients download from it with presigned URLs and
    #: upload through the API (see ``storage_direct_uploads``).
    storage_url: str | None = None
    #: With an S3 store, hand clients presigned PUT URLs straight into the bucket instead of the
    #: API's own signed upload route. Off (the default), the API takes each upload: it refuses a
    #: body over ``max_upload_bytes`` or over the key's upload storage with 413 while it streams
    #: (nothing reaches the bucket), each URL works once, and the body goes on to the store from
    #: a temporary file on the API host. On, upload bytes never pass through the API, but a
    #: presigned PUT cannot carry a size cap (the SDK's length is unknown when the URL is handed
    #: out): the size is only held afterwards, when a job is created (a HEAD; too large is 400
    #: and deleted), by the worker's capped download, and by the sweep once the URL expired.
    storage_direct_uploads: bool = False
    #: S3 API endpoint (MinIO, Ceph, R2 ...); unset: AWS itself.
    storage_endpoint_url: str | None = None
    #: The endpoint as clients reach it, when it differs (presigned URLs carry their host).
    storage_public_endpoint_url: str | None = None
    storage_region: str | None = None
    #: S3 credentials; unset: boto3's usual chain (environment, config files, instance role).
    storage_access_key_id: str | None = None
    storage_secret_access_key: str | None = None
    #: ``redis://host:6379/0``: jobs go through Celery and ``openlipsync worker`` processes
    #: render them; unset: the in-process pool of ``openlipsync serve``.
    broker_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    #: Base of the signed upload/download links (e.g. ``https://lipsync.example.com``);
    #: default: the scheme and host of the request that asked for them.
    public_base_url: str | None = None
    #: HMAC key for signed links, at least ``MIN_SECRET_CHARS`` characters; default: a random key
    #: kept in ``<data_dir>/secret.key``. A cluster sets it: every process must sign alike.
    secret_key: str | None = Field(default=None, min_length=MIN_SECRET_CHARS)

    #: Renders that run at once per process (each in its own process): the in-process pool of
    #: ``serve`` (0: none), or the Celery concurrency of ``openlipsync worker``.
    workers: int = Field(default=1, ge=0)
    #: Seconds a render may run before it fails with ``processing_timeout``.
    render_timeout_s: float = Field(default=3600.0, gt=0)
    #: A worker renews its claim on a job this often x 3; a claim not renewed for this long
    #: is taken as a dead worker and the job is re-queued (or failed and refunded).
    lease_s: float = Field(default=30.0, gt=0)
    #: Attempts per job before a job whose worker keeps dying is failed and refunded.
    max_attempts: int = Field(default=2, ge=1)
    #: Largest job, in frames at the 30 fps estimate (Magic Hour's cap is 120,000).
    max_frames: int = Field(default=120_000, ge=1)

    #: Credits of the key created on first start.
    first_key_credits: int = Field(default=100_000, ge=0)
    upload_url_ttl_s: int = Field(default=3600, ge=1)
    #: Uploaded inputs are deleted this long after their upload URL was handed out (Magic Hour
    #: keeps them 7 days); not while that URL still works or a queued or rendering job needs them.
    upload_retention_s: float = Field(default=7 * 86_400.0, gt=0)
    download_url_ttl_s: int = Field(default=86_400, ge=1)
    max_upload_bytes: int = Field(default=2 * 1024**3, ge=1)
    #: Largest JSON request body.
    max_json_bytes: int = Field(default=256 * 1024, ge=1024)

    #: Per-key limits (0: none). An operator lifts them for one key with ``openlipsync keys limits``.
    #: Requests per minute to ``/v1/*``; the SDK polls about 2/s per running job.
    rate_limit_per_minute: int = Field(default=1200, ge=0)
    #: Jobs of one key rendering at once; more wait in the queue while other keys' jobs go first.
    max_concurrent_jobs: int = Field(default=2, ge=0)
    #: Jobs of one key queued or rendering; creating one more answers 429.
    max_queued_jobs: int = Field(default=20, ge=0)
    #: Upload slots of one key handed out and not yet uploaded while their URL still works.
    max_pending_uploads: int = Field(default=100, ge=0)
    #: Bytes of one key's uploads kept (uploads are kept ``upload_retention_s``).
    max_upload_storage_bytes: int = Field(default=50 * 1024**3, ge=0)

    #: Remote inputs (http(s) URLs, YouTube): size cap and per-phase network timeout.
    max_remote_bytes: int = Field(default=2 * 1024**3, ge=1)
    remote_timeout_s: float = Field(default=30.0, gt=0)
    #: Hosts and IP ranges remote inputs may reach although they are loopback, private or
    #: link-local (comma separated, e.g. ``media.internal,10.1.0.0/16``). Empty: public only.
    remote_allow: Annotated[list[str], NoDecode] = Field(default_factory=list)

    #: Webhook retries wait base x 2^(attempt-1) seconds, for up to ``webhook_max_age_s``.
    webhook_backoff_base_s: float = Field(default=10.0, gt=0)
    webhook_max_age_s: float = Field(default=86_400.0, gt=0)
    webhook_timeout_s: float = Field(default=10.0, gt=0)

    #: ``GET /metrics`` on the API answers only with ``Authorization: Bearer <this token>``;
    #: unset, it answers 404 (the numbers include every key's credits).
    metrics_token: str | None = None
    #: Also serve the metrics, without a token, on this port of ``metrics_host``: what a
    #: ``openlipsync worker`` (which has no HTTP API) is scraped on. Unset: no such listener.
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    #: ``json``: one JSON object per log line (request id and project id included); ``text``: plain.
    log_format: Literal["json", "text"] = "json"

    @field_validator("remote_allow", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'openlipsync.db'}"

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or (self.data_dir.resolve() / "blobs").as_uri()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return Settings()
