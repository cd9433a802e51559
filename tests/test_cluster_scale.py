"""Cluster mode at work: two API processes and two worker processes (all separate OS processes)
on PostgreSQL, a Redis broker and S3 (moto). Jobs go in through the real SDK at both APIs; every
one completes, credits come out exact, and extra deliveries of the same job change nothing.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import av
import httpx
import pytest
import redis
from magic_hour import Client
from sqlalchemy import select

from openlipsync.core.config import Settings
from openlipsync.jobs.queue.celery_app import QUEUE, TASK, make_celery
from openlipsync.store.db import Database
from openlipsync.store.models import Project
from tests.cluster import cluster
from tests.conftest import shared_media
from tests.server import balance, lip_sync, upload, wait_for

JOBS = 20
#: 1 s at 5 fps: 5 frames rendered, after a 30-credit estimate.
FRAMES, ESTIMATE = 5, 30
MAX_UPLOAD = 3_000_000


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    env = {"OPENLIPSYNC_MAX_UPLOAD_BYTES": str(MAX_UPLOAD)}
    with cluster(tmp_path_factory.mktemp("cluster-scale"), env) as running:
        for _ in range(2):
            running.start_api()
        for _ in range(2):
            running.start_worker()
        yield running


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch):
    monkeypatch.setenv("MAGIC_HOUR_POLL_INTERVAL", "0.3")


def _rows(running, ids: list[str]) -> dict[str, Project]:
    db = Database(running.env["OPENLIPSYNC_DATABASE_URL"])
    try:
        with db.session() as session:
            return {row.id: row for row in session.scalars(select(Project).where(Project.id.in_(ids)))}
    finally:
        db.dispose()


def _drained(running, timeout_s: float = 60) -> None:
    """Wait until the broker holds no message, delivered or not, for the render queue."""
    broker = redis.Redis.from_url(running.redis.url)
    deadline = time.monotonic() + timeout_s
    while broker.llen(QUEUE) or broker.hlen("unacked"):
        assert time.monotonic() < deadline, "the broker never drained"
        time.sleep(0.2)


def test_twenty_jobs_through_two_apis_and_two_workers(running, tmp_path):
    first, second = running.servers
    secret = first.create_key(credits=JOBS * ESTIMATE, name="scale")
    clients = [Client(token=secret, base_url=server.url) for server in (first, second)]
    video = clients[0].v1.files.upload_file(file=str(shared_media("woman_flags.mp4")))
    audio = clients[1].v1.files.upload_file(file=str(shared_media("speech_en_a.wav")))
    assert running.s3.size(video) == shared_media("woman_flags.mp4").stat().st_size

    def create(index: int) -> str:
        created = clients[index % 2].v1.lip_sync.create(
            assets={"video_file_path": video, "audio_file_path": audio, "video_source": "file"},
            start_seconds=0.0, end_seconds=1.0, max_fps_limit=5.0, name=f"job {index}")
        assert created.credits_charged == ESTIMATE
        return created.id

    with ThreadPoolExecutor(6) as pool:
        ids = list(pool.map(create, range(JOBS)))
    assert len(set(ids)) == JOBS
    # The balance covered exactly 20 estimates: nothing is left until jobs settle.
    assert clients[0].v1.account.list().credits < ESTIMATE

    done = [clients[i % 2].v1.video_projects.check_result(
        id=project_id, wait_for_completion=True, download_outputs=i == 0, download_directory=str(tmp_path))
        for i, project_id in enumerate(ids)]
    assert [project.status for project in done] == ["complete"] * JOBS
    assert all(project.credits_charged == FRAMES for project in done)
    assert clients[1].v1.account.list().credits == JOBS * (ESTIMATE - FRAMES)

    # The first output came straight from S3 and is a real 1 s video at 5 fps with sound.
    url = httpx.URL(done[0].downloads[0].url)
    assert url.port == running.s3.port and "X-Amz-Signature" in url.params
    with av.open(done[0].downloaded_paths[0]) as container:
        assert sum(1 for _ in container.decode(video=0)) == FRAMES
        assert len(container.streams.audio) == 1

    rows = _rows(running, ids)
    assert all(row.attempts == 1 for row in rows.values()), "a job was claimed twice"
    for worker in running.workers:
        assert "openlipsync.render" in worker.log(), "a worker never got a job"

    # Deliver every job twice more, straight to the broker: no claim, no render, no charge.
    app = make_celery(Settings(broker_url=running.redis.url))
    for project_id in ids * 2:
        app.send_task(TASK, args=[project_id], queue=QUEUE)
    _drained(running)
    again = _rows(running, ids)
    assert [(row.status, row.attempts, row.credits_charged, row.finished_at) for row in again.values()] == \
        [(row.status, row.attempts, row.credits_charged, row.finished_at) for row in rows.values()]
    assert clients[0].v1.account.list().credits == JOBS * (ESTIMATE - FRAMES)


def test_oversized_upload_to_s3_is_refused_at_upload_time(running):
    """With S3 behind it the API still hands out its own upload URL (direct uploads are off by
    default), so it refuses a body over the limit while it streams: 413 naming the limit, nothing
    in the bucket. A body within the limit goes on into S3, and a worker renders a job from it.
    The opt-in direct mode is tested in test_store_s3_caps.py::test_direct_mode_refuses_at_job_creation."""
    api = running.servers[1]
    with api.client() as http:
        slot = http.post("/v1/files/upload-urls", json={"items": [{"type": "video", "extension": "mp4"}]})
        item = slot.json()["items"][0]
        url = httpx.URL(item["upload_url"])
        assert url.netloc == httpx.URL(api.url).netloc and "X-Amz-Signature" not in url.params, url
        answer = httpx.put(url, content=b"\0" * (MAX_UPLOAD + 1))
        assert answer.status_code == 413 and str(MAX_UPLOAD) in answer.json()["message"]
        folder = item["file_path"].rsplit("/", 1)[0] + "/"
        assert running.s3.size(item["file_path"]) is None and api.stored_under(folder) == []

        before = balance(http)
        video, audio = shared_media("woman_flags.mp4"), shared_media("speech_en_a.wav")
        assert video.stat().st_size <= MAX_UPLOAD and audio.stat().st_size <= MAX_UPLOAD
        assert httpx.put(url, content=video.read_bytes(), timeout=60).status_code == 200  # refused, so unused
        assert running.s3.size(item["file_path"]) == video.stat().st_size
        created = lip_sync(http, item["file_path"], upload(http, audio, "audio"), max_fps=5.0)
        assert created.status_code == 200, created.text
        project = wait_for(http, created.json()["id"], timeout_s=120)
        assert project["status"] == "complete" and project["credits_charged"] == FRAMES
        assert balance(http) == before - FRAMES


def test_concurrent_creates_at_both_apis_never_overdraw(running):
    """20 creates at once through both API processes against a balance for 10: PostgreSQL's
    conditional UPDATE lets exactly 10 through; deleting them refunds every credit."""
    secret = running.servers[0].create_key(credits=10 * ESTIMATE, name="race")
    clients = [server.client(key=secret) for server in running.servers]
    try:
        video = upload(clients[0], shared_media("woman_flags.mp4"), "video")
        audio = upload(clients[1], shared_media("speech_en_a.wav"), "audio")
        with ThreadPoolExecutor(10) as pool:
            answers = list(pool.map(lambda i: lip_sync(clients[i % 2], video, audio, max_fps=5.0), range(20)))
        assert sorted(answer.status_code for answer in answers) == [200] * 10 + [402] * 10
        assert balance(clients[0]) == 0
        for answer in answers:
            if answer.status_code == 200:
                assert clients[1].delete(f"/v1/video-projects/{answer.json()['id']}").status_code == 204
        assert balance(clients[0]) == 10 * ESTIMATE
    finally:
        for client in clients:
            client.close()
