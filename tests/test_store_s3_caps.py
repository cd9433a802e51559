"""S3 size caps: a presigned PUT cannot be refused, so the size is held at three later points, each
tested here against a real S3 API (moto on loopback): the job's creation (a HEAD; tests of the
API), the worker's download (counted, capped), and a sweep once the upload URL is dead."""

from __future__ import annotations

from contextlib import ExitStack

import httpx
import pytest

from openlipsync.core.config import Settings
from openlipsync.jobs.errors import JobError
from openlipsync.jobs.projects.retention import check_direct_uploads
from openlipsync.jobs.rendering.child import _input
from openlipsync.store.blobs import BlobTooLarge
from openlipsync.store.db import Database, upgrade
from openlipsync.store.models import ApiKey, Upload, now
from openlipsync.store.s3 import open_s3_store
from tests.cluster import BUCKET, MotoS3

LIMIT = 10_000
KEY = "api-assets/0123456789abcdef01234567/video.mp4"


@pytest.fixture(scope="module")
def s3():
    server = MotoS3()
    yield server
    server.stop()


@pytest.fixture
def settings(s3, tmp_path):
    return Settings(data_dir=tmp_path, storage_url=f"s3://{BUCKET}", storage_endpoint_url=s3.endpoint,
                    storage_access_key_id="test", storage_secret_access_key="test", max_upload_bytes=LIMIT)


def _put(url: str, size: int) -> None:
    assert httpx.put(url, content=b"\1" * size).is_success


def test_the_worker_download_is_capped(settings, tmp_path):
    store = open_s3_store(settings.resolved_storage_url, settings)
    url = store.upload_url(KEY, 600)
    _put(url, LIMIT)
    with store.local_path(KEY, max_bytes=LIMIT) as path:
        assert path.stat().st_size == LIMIT
    _put(url, LIMIT + 1)  # the same presigned URL, after the job was accepted
    with pytest.raises(BlobTooLarge), store.local_path(KEY, max_bytes=LIMIT):
        pass
    with ExitStack() as stack, pytest.raises(JobError) as caught:
        _input(KEY, "video", tmp_path, settings, stack)
    assert caught.value.code == "file_too_large" and str(LIMIT) in caught.value.message


def test_an_upload_grown_after_its_check_is_deleted_once_its_url_is_dead(settings, tmp_path):
    store = open_s3_store(settings.resolved_storage_url, settings)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    db = Database(url)
    small, grown = KEY, KEY.replace("video.mp4", "audio.wav").replace("0123", "4567")
    with db.session() as session:
        session.add(ApiKey(id="k", name="k", key_hash="h", prefix="p", credits=0))
        for path in (small, grown):  # both checked at job creation (100 bytes), URLs expired since
            session.add(Upload(file_path=path, key_id="k", type="video", extension="mp4",
                               expires_at=now() - 1, uploaded_at=now(), size=100))
    _put(store.upload_url(small, 600), 100)
    _put(store.upload_url(grown, 600), LIMIT * 3)
    assert check_direct_uploads(db, store, LIMIT) == 2
    assert store.size(small) == 100 and store.size(grown) is None
    with db.session() as session:
        kept, dropped = session.get(Upload, small), session.get(Upload, grown)
        assert kept.checked_at and kept.uploaded_at and kept.size == 100
        assert dropped.checked_at and dropped.uploaded_at is None and dropped.size is None
    assert check_direct_uploads(db, store, LIMIT) == 0  # each slot is looked at once
    db.dispose()
