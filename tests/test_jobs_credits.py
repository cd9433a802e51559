"""Credits: charged atomically at queue time, refunded in full on error, settled on completion."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from openlipsync.jobs.accounts import credits
from openlipsync.store.db import Database, upgrade
from openlipsync.store.models import ApiKey
from tests import generate
from tests.conftest import shared_media
from tests.server import balance, lip_sync, running_server, upload, wait_for


def test_concurrent_charges_in_the_database_never_overdraw(tmp_path):
    url = f"sqlite:///{tmp_path / 'credits.db'}"
    upgrade(url)
    db = Database(url)
    with db.session() as session:
        session.add(ApiKey(id="k", name="k", key_hash="h", prefix="p", credits=300))
    start = threading.Barrier(20)

    def take() -> bool:
        start.wait()
        with db.session() as session:
            return credits.charge(session, "k", 30)

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: take(), range(20)))
    assert results.count(True) == 10
    with db.session() as session:
        assert session.get(ApiKey, "k").credits == 0
    db.dispose()


@pytest.fixture(scope="module")
def queue_only(tmp_path_factory):
    """A server without render workers: jobs stay queued, so only charges move the balance."""
    with running_server(tmp_path_factory.mktemp("credits-q"), env={"OPENLIPSYNC_WORKERS": "0"}) as server:
        yield server


def test_twenty_concurrent_creates_against_credits_for_ten(queue_only):
    secret = queue_only.create_key(credits=300)
    with queue_only.client(key=secret) as http:
        video = upload(http, shared_media("woman_flags.mp4"), "video")
        audio = upload(http, shared_media("speech_en_a.wav"), "audio")
    start = threading.Barrier(21)
    seen: list[int] = []
    done = threading.Event()

    def create(_: int) -> httpx.Response:
        with queue_only.client(key=secret) as http:
            start.wait()
            return lip_sync(http, video, audio)  # 1 s: 30 credits each

    def watch() -> None:
        with queue_only.client(key=secret) as http:
            start.wait()
            while not done.is_set():
                seen.append(balance(http))

    watcher = threading.Thread(target=watch)
    watcher.start()
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(create, range(20)))
    done.set()
    watcher.join()

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 10 + [402] * 10
    assert all(answer.json()["message"].startswith("Payment required") for answer in answers
               if answer.status_code == 402)
    assert seen and min(seen) >= 0
    with queue_only.client(key=secret) as http:
        assert balance(http) == 0
        ids = [answer.json()["id"] for answer in answers if answer.status_code == 200]
        assert len(set(ids)) == 10
        assert all(http.get(f"/v1/video-projects/{i}").json()["status"] == "queued" for i in ids)
        # Deleting a job that has not rendered cancels it and refunds it in full.
        assert http.delete(f"/v1/video-projects/{ids[0]}").status_code == 204
        assert http.get(f"/v1/video-projects/{ids[0]}").status_code == 404
        assert balance(http) == 30


@pytest.fixture(scope="module")
def rendering(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("credits-r")) as server:
        yield server


def test_failing_render_is_refunded_in_full(rendering, tmp_path):
    secret = rendering.create_key(credits=100)
    not_a_video = tmp_path / "broken.mp4"
    not_a_video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 500)
    with rendering.client(key=secret) as http:
        video = upload(http, not_a_video, "video")
        audio = upload(http, shared_media("speech_en_a.wav"), "audio")
        created = lip_sync(http, video, audio, end=2.0)
        assert created.json()["credits_charged"] == 60 and balance(http) == 40
        project = wait_for(http, created.json()["id"])
        assert project["status"] == "error" and project["error"]["code"] == "invalid_video_file"
        assert project["error"]["message"]
        assert project["credits_charged"] == project["total_frame_cost"] == 0
        assert project["downloads"] == [] and balance(http) == 100


def test_completed_render_settles_to_the_frames_rendered(rendering):
    secret = rendering.create_key(credits=100)
    with rendering.client(key=secret) as http:
        video = upload(http, shared_media("woman_flags.mp4"), "video")
        audio = upload(http, shared_media("speech_en_b.wav"), "audio")
        created = lip_sync(http, video, audio, start=1.0, end=2.0, max_fps=10.0)
        assert created.json()["credits_charged"] == 30  # the estimate: 1 s x 30 fps
        project = wait_for(http, created.json()["id"])
        assert project["status"] == "complete", project["error"]
        # 25 fps capped to 10 fps: 10 frames, 1 credit each in lite; the other 20 come back.
        assert project["fps"] == 10.0 and project["credits_charged"] == 10
        assert balance(http) == 90


def test_modes_are_charged_at_their_rate_and_a_fallback_is_noted(rendering, tmp_path):
    """A mouth that never moves gives standard/pro nothing to re-sequence: the job still completes,
    drawn by lite, and says so in ``notes``; pro costs 2 credits a frame, standard 1."""
    still = generate.face_video(tmp_path / "still_mouth.mp4", seconds=1.0, fps=10)
    secret = rendering.create_key(credits=200)
    with rendering.client(key=secret) as http:
        video = upload(http, still, "video")
        audio = upload(http, shared_media("speech_en_a.wav"), "audio")
        for mode, rate in (("standard", 1), ("pro", 2)):
            created = lip_sync(http, video, audio, end=1.0, style={"generation_mode": mode}).json()
            assert created["credits_charged"] == 30 * rate
            project = wait_for(http, created["id"])
            assert project["status"] == "complete", project["error"]
            assert project["generation_mode"] == mode and project["credits_charged"] == 10 * rate
            assert any("lite" in note for note in project["notes"]), project["notes"]
        assert balance(http) == 200 - 10 - 20
