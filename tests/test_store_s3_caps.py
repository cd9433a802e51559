"""S3 size caps, against a real S3 API (moto on loopback). By default an S3 store hands out the
API's own upload URLs, whose PUT caps the size (``test_api_hostile.py`` and ``test_cluster_scale.py``
run them on S3); only in direct-upload mode (``OPENLIPSYNC_STORAGE_DIRECT_UPLOADS``) do clients get
presigned PUTs, which cannot be refused, so the size is held at three later points, each tested
here: the job's creation (a HEAD, through a real API process), the worker's download (counted,
capped), and a sweep once the upload URL is dead."""

from __future__ import annotations

from contextlib import ExitStack

import httpx
import pytest

from openlipsync.core.config import Settings
from openlipsync.jobs.delivery.links import Links
from openlipsync.jobs.delivery.signing import Signer
from openlipsync.jobs.errors import JobError
from openlipsync.jobs.projects.retention import check_direct_uploads
from openlipsync.jobs.rendering.child import _input
from openlipsync.store.blobs import BlobTooLarge
from openlipsync.store.db import Database, upgrade
from openlipsync.store.models import ApiKey, Upload, now
from openlipsync.store.s3 import open_s3_store
from tests.cluster import BUCKET, MotoS3
from tests.server import balance, lip_sync, running_server

LIMIT = 10_000
KEY = "api-assets/0123456789abcdef01234567/video.mp4"


@pytest.fixture(scope="module")
def s3():
    server = MotoS3()
    yield server
    server.stop()


def _s3_env(s3) -> dict[str, str]:
    return {"OPENLIPSYNC_STORAGE_URL": f"s3://{BUCKET}", "OPENLIPSYNC_STORAGE_ENDPOINT_URL": s3.endpoint,
            "OPENLIPSYNC_STORAGE_ACCESS_KEY_ID": "test", "OPENLIPSYNC_STORAGE_SECRET_ACCESS_KEY": "test",
            "OPENLIPSYNC_MAX_UPLOAD_BYTES": str(LIMIT)}


@pytest.fixture
def settings(s3, tmp_path, monkeypatch):
    """Direct-upload mode: the store hands out presigned PUTs."""
    for name, value in {**_s3_env(s3), "OPENLIPSYNC_STORAGE_DIRECT_UPLOADS": "true"}.items():
        monkeypatch.setenv(name, value)
    return Settings(data_dir=tmp_path)


def _put(url: str, size: int) -> None:
    assert httpx.put(url, content=b"\1" * size).is_success


def test_an_s3_store_hands_out_presigned_puts_only_in_direct_mode(settings, tmp_path):
    """Default: no presigned PUT, so the API's own (size-capped) route is handed out, and the
    sweep has nothing to check; direct mode: presigned PUTs, and the sweep looks."""
    plain = settings.model_copy(update={"storage_direct_uploads": False})
    default = open_s3_store(settings.resolved_storage_url, plain)
    direct = open_s3_store(settings.resolved_storage_url, settings)
    assert not default.direct_uploads and direct.direct_uploads
    assert default.upload_url(KEY, 600) is None
    signer = Signer(b"s" * 32)
    url, _ = Links(signer, default).upload(KEY, "https://api.example", 600)
    assert url.startswith(f"https://api.example/uploads/{KEY}?") and "signature=" in url
    url, _ = Links(signer, direct).upload(KEY, "https://api.example", 600)
    assert httpx.URL(url).port == httpx.URL(settings.storage_endpoint_url).port and "X-Amz-Signature" in url
    assert "X-Amz-Signature" in default.download_url(KEY, 600, "out.mp4")  # downloads stay direct

    db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(db_url)
    db = Database(db_url)
    with db.session() as session:
        session.add(ApiKey(id="k", name="k", key_hash="h", prefix="p", credits=0))
        session.add(Upload(file_path=KEY, key_id="k", type="video", extension="mp4", expires_at=now() - 1))
    assert check_direct_uploads(db, default, LIMIT) == 0
    assert check_direct_uploads(db, direct, LIMIT) == 1
    db.dispose()


def test_the_s3_writer_leaves_nothing_when_aborted_and_streams_through_a_spool(settings, s3, monkeypatch):
    """What the API's PUT route does with S3 behind it: an aborted upload (over the cap, client gone)
    never reaches the bucket; a committed one larger than the in-memory spool lands whole."""
    monkeypatch.setattr("openlipsync.store.s3.SPOOL_BYTES", 64 * 1024)
    store = open_s3_store(settings.resolved_storage_url, settings)
    aborted = store.writer(KEY)
    aborted.write(b"\1" * 100_000)
    assert aborted._spool._rolled, "the body should have gone to a temporary file, not memory"
    aborted.abort()
    assert s3.size(KEY) is None
    kept = KEY.replace("video.mp4", "video.mov")
    writer = store.writer(kept)
    for _ in range(10):
        writer.write(b"\2" * 100_000)
    assert s3.size(kept) is None  # nothing visible before the commit
    writer.commit()
    assert s3.size(kept) == 1_000_000
    store.delete(kept)


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


def test_direct_mode_refuses_at_job_creation(s3, tmp_path):
    """Direct uploads (opt-in): the upload URL is S3's presigned PUT, which takes any size; the API
    process checks the object when a job first uses it: over the limit is a 400 naming the limit,
    over the key's upload storage a 429, the object is deleted either way and nothing is charged."""
    env = {**_s3_env(s3), "OPENLIPSYNC_STORAGE_DIRECT_UPLOADS": "1", "OPENLIPSYNC_WORKERS": "0"}
    with running_server(tmp_path / "api", env=env) as server:
        server.extra["s3"] = s3
        secret = server.create_key(credits=1000, name="direct")
        key_id = next(row["id"] for row in server.cli_json("keys", "list")
                      if secret.startswith(row["prefix"]))
        server.cli_json("keys", "limits", key_id, "--max-upload-storage-bytes", str(LIMIT + LIMIT // 2))
        with server.client(key=secret) as http:
            items = [{"type": "video", "extension": "mp4"}, {"type": "audio", "extension": "wav"},
                     {"type": "audio", "extension": "wav"}]
            big, fits, overflows = http.post("/v1/files/upload-urls", json={"items": items}).json()["items"]
            for slot in (big, fits, overflows):
                url = httpx.URL(slot["upload_url"])
                assert url.port == s3.port and "X-Amz-Signature" in url.params, url
            _put(big["upload_url"], LIMIT + 1)  # S3 cannot refuse it
            _put(fits["upload_url"], LIMIT)
            _put(overflows["upload_url"], LIMIT // 2 + 1)
            assert s3.size(big["file_path"]) == LIMIT + 1
            before = balance(http)

            answer = lip_sync(http, big["file_path"], fits["file_path"])
            assert answer.status_code == 400 and "too large" in answer.json()["message"]
            assert str(LIMIT) in answer.json()["message"]
            assert s3.size(big["file_path"]) is None and s3.size(fits["file_path"]) == LIMIT

            answer = lip_sync(http, overflows["file_path"], fits["file_path"])  # fits is counted first
            assert answer.status_code == 429 and "storage full" in answer.json()["message"]
            assert f"{LIMIT // 2} bytes left" in answer.json()["message"]
            assert s3.size(overflows["file_path"]) is None and s3.size(fits["file_path"]) == LIMIT
            assert balance(http) == before
