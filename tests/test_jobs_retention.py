"""Uploaded inputs are deleted after the retention (Magic Hour: 7 days); outputs stay.

The purge itself on SQLite and PostgreSQL (which uploads go, several sweepers at once), then a
real server in both configurations with a retention of one second: an expired upload is gone
from storage and refused like one never uploaded, a fresh one renders, and a job whose input
vanished fails with ``invalid_video_file`` and is refunded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from openlipsync.jobs.projects.retention import purge_expired_uploads
from openlipsync.store.blobs import LocalBlobStore
from openlipsync.store.db import Database, upgrade
from openlipsync.store.models import COMPLETE, QUEUED, RENDERING, ApiKey, Project, Upload, now
from tests.cluster import BUCKET, postgres_database
from tests.conftest import shared_media
from tests.server import MODES, Server, balance, lip_sync, running_server, upload, wait_for

DAY = 86_400.0


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> Iterator[Database]:
    """A migrated, empty database with one key ``k``."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'retention.db'}"
        database = _migrated(url)
        yield database
        database.dispose()
        return
    with postgres_database() as url:
        database = _migrated(url)
        yield database
        database.dispose()


def _migrated(url: str) -> Database:
    upgrade(url)
    database = Database(url)
    with database.session() as session:
        session.add(ApiKey(id="k", name="k", key_hash="h", prefix="p", credits=0))
    return database


def _upload(db: Database, blobs: LocalBlobStore, name: str, age_s: float, link_left_s: float = -1.0) -> str:
    """An uploaded file handed out ``age_s`` ago whose upload link ends ``link_left_s`` from now."""
    file_path = f"api-assets/{name:0>24}/video.mp4"
    writer = blobs.writer(file_path)
    writer.write(b"bytes")
    writer.commit()
    moment = now()
    with db.session() as session:
        session.add(Upload(file_path=file_path, key_id="k", type="video", extension="mp4",
                           created_at=moment - age_s, expires_at=moment + link_left_s,
                           uploaded_at=moment - age_s, size=5))
    return file_path


def _project(db: Database, status: str, video: str) -> None:
    with db.session() as session:
        session.add(Project(key_id="k", status=status, mode="lite", start_seconds=0, end_seconds=1,
                            video_source="file", video_input=video, audio_input="https://x.test/a.wav",
                            public_base_url="http://x.test", estimate=30, credits_charged=30, fps=30))


def _stored(db: Database) -> set[str]:
    with db.session() as session:
        return set(session.scalars(select(Upload.file_path)))


def test_only_expired_uploads_no_job_needs_are_purged(db, tmp_path):
    blobs = LocalBlobStore(tmp_path / "blobs")
    old = _upload(db, blobs, "a1", age_s=8 * DAY)
    fresh = _upload(db, blobs, "a2", age_s=6 * DAY)
    link_alive = _upload(db, blobs, "a3", age_s=8 * DAY, link_left_s=60)
    queued, rendering, done = (_upload(db, blobs, name, age_s=8 * DAY) for name in ("a4", "a5", "a6"))
    for status, video in ((QUEUED, queued), (RENDERING, rendering), (COMPLETE, done)):
        _project(db, status, video)

    assert purge_expired_uploads(db, blobs, retention_s=7 * DAY) == 2
    kept = {fresh, link_alive, queued, rendering}
    assert _stored(db) == kept
    for file_path in (old, done, *kept):
        assert (blobs.size(file_path) is None) == (file_path not in kept), file_path
    assert purge_expired_uploads(db, blobs, retention_s=7 * DAY) == 0


def test_concurrent_sweepers_share_the_work_without_errors(db, tmp_path):
    blobs = LocalBlobStore(tmp_path / "blobs")
    doomed = [_upload(db, blobs, f"b{index}", age_s=2 * DAY) for index in range(60)]
    start = threading.Barrier(4)

    def sweep() -> int:
        start.wait()
        total = 0
        while purged := purge_expired_uploads(db, blobs, retention_s=DAY, batch=7):
            total += purged
        return total

    with ThreadPoolExecutor(4) as pool:
        totals = list(pool.map(lambda _: sweep(), range(4)))
    assert sum(totals) >= len(doomed)
    assert _stored(db) == set()
    assert all(blobs.size(file_path) is None for file_path in doomed)
    assert not any((tmp_path / "blobs" / "api-assets").iterdir()), "emptied asset folders left behind"


# --- A real server with a one-second retention ----------------------------------------------------

#: Uploads expire one second after they were handed out, once their 4 s upload link is dead.
ENV = {"OPENLIPSYNC_UPLOAD_RETENTION_S": "1", "OPENLIPSYNC_UPLOAD_URL_TTL_S": "4"}


@pytest.fixture(scope="module", params=MODES)
def server(request, tmp_path_factory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("retention"), env=ENV, mode=request.param) as server:
        yield server


def _upload_pair(http: httpx.Client) -> tuple[str, str]:
    video = upload(http, shared_media("woman_flags.mp4"), "video")
    return video, upload(http, shared_media("speech_en_a.wav"), "audio")


def _wait_gone(server: Server, file_paths: tuple[str, ...], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while any(server.stored_size(path) is not None for path in file_paths):
        assert time.monotonic() < deadline, f"uploads still stored after {timeout_s} s: {file_paths}"
        time.sleep(0.2)


def _delete_blob(server: Server, key: str) -> None:
    """Remove a stored file behind the service's back."""
    if "s3" in server.extra:
        server.extra["s3"].client.delete_object(Bucket=BUCKET, Key=key)
    else:
        (Path(server.data_dir) / "blobs" / key).unlink()


def test_expired_upload_is_deleted_and_refused_a_fresh_one_renders(server):
    with server.client() as http:
        expired = _upload_pair(http)
        _wait_gone(server, expired)
        answer = lip_sync(http, *expired)
        assert answer.status_code == 400, answer.text
        assert f"file path '{expired[1]}' does not exist" in answer.json()["message"]

        fresh = _upload_pair(http)
        created = lip_sync(http, *fresh)
        assert created.status_code == 200, created.text
        project = wait_for(http, created.json()["id"])
        assert project["status"] == "complete", project
        _wait_gone(server, fresh)  # once the job no longer needs them
        output = httpx.get(project["downloads"][0]["url"], timeout=60)
        assert output.status_code == 200 and output.content, "the output went with the inputs"


def test_job_whose_upload_vanished_fails_and_is_refunded(server):
    with server.client() as http:
        video, audio = _upload_pair(http)
        # The PUT recorded the upload (a direct S3 upload is recorded by the first create, even one
        # answered 422 for too long a clip).
        assert lip_sync(http, video, audio, end=5000.0).status_code == 422
        _delete_blob(server, video)
        before = balance(http)
        created = lip_sync(http, video, audio)
        assert created.status_code == 200, created.text
        project = wait_for(http, created.json()["id"])
        assert project["status"] == "error", project
        assert project["error"]["code"] == "invalid_video_file"
        assert "no longer stored" in project["error"]["message"]
        assert project["credits_charged"] == 0 and balance(http) == before
