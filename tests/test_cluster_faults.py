"""Cluster mode under faults: a worker killed mid-render, Redis restarted, PostgreSQL cut off, a
rendering job whose worker vanished. Every job ends, none renders or charges twice.

One cluster for the module (PostgreSQL, own redis-server, moto S3, real API and worker
processes), with short leases so dead workers are noticed in seconds.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest
from sqlalchemy import update

from openlipsync.store.db import Database
from openlipsync.store.models import Project
from tests.cluster import PG_PORT, Cluster, TcpProxy, Worker, cluster
from tests.conftest import shared_media
from tests.server import balance, lip_sync, upload, wait_for

MAX_ATTEMPTS = 3
#: A job long enough to be caught mid-render on a fast machine: 4.8 s of the clip at 25 fps.
LONG_JOB = {"end": 4.8, "max_fps": 25.0}
LONG_FRAMES = 120
ENV = {"OPENLIPSYNC_LEASE_S": "4", "OPENLIPSYNC_MAX_ATTEMPTS": str(MAX_ATTEMPTS)}


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    with cluster(tmp_path_factory.mktemp("cluster-faults"), ENV) as running:
        running.start_api()
        running.start_worker()
        running.start_worker()
        yield running


@pytest.fixture(scope="module")
def db(running):
    database = Database(running.env["OPENLIPSYNC_DATABASE_URL"])
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def inputs(running):
    with running.servers[0].client() as http:
        return (upload(http, shared_media("woman_flags.mp4"), "video"),
                upload(http, shared_media("speech_en_a.wav"), "audio"))


def _row(db: Database, project_id: str) -> Project:
    with db.session() as session:
        return session.get(Project, project_id)


def _live_workers(running: Cluster) -> list[Worker]:
    return [worker for worker in running.workers if worker.process.poll() is None]


def _worker_rendering(running: Cluster, http: httpx.Client, project_id: str) -> tuple[Worker, list[int]]:
    """Wait until the job renders frames; the worker doing it and its render processes."""
    deadline = time.monotonic() + 90
    while True:
        project = http.get(f"/v1/video-projects/{project_id}").json()
        busy = [(worker, pids) for worker in _live_workers(running) if (pids := worker.render_pids())]
        if project["status"] == "rendering" and project["progress"] > 0 and len(busy) == 1:
            return busy[0]
        assert project["status"] in ("queued", "rendering"), project
        assert time.monotonic() < deadline, f"the job never started rendering: {project}"
        time.sleep(0.1)


def test_worker_stopped_mid_render_hands_the_job_back(running, db, inputs):
    """SIGTERM (a deploy, ``systemctl stop``): the worker stops its render, puts the job back in
    the queue uncounted and exits at once; the other worker renders it."""
    with running.servers[0].client() as http:
        before = balance(http)
        created = lip_sync(http, *inputs, **LONG_JOB).json()
        leaving, pids = _worker_rendering(running, http, created["id"])
        began = time.monotonic()
        leaving.stop()
        assert leaving.process.returncode == 0 and time.monotonic() - began < 20
        _, alive = psutil.wait_procs([psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)],
                                     timeout=15)
        assert not alive, "the render process outlived its worker"
        assert "Warm shutdown" in leaving.log()

        project = wait_for(http, created["id"], timeout_s=120)
        assert project["status"] == "complete" and project["credits_charged"] == LONG_FRAMES
        assert balance(http) == before - LONG_FRAMES
    assert _row(db, created["id"]).attempts == 1  # the hand-back does not count as a try
    running.start_worker()


def test_worker_killed_mid_render_completes_on_the_other(running, db, inputs):
    with running.servers[0].client() as http:
        before = balance(http)
        created = lip_sync(http, *inputs, **LONG_JOB).json()
        victim, pids = _worker_rendering(running, http, created["id"])
        victim.kill()  # SIGKILL: no shutdown code runs, the message stays unacknowledged
        _, alive = psutil.wait_procs([psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)],
                                     timeout=15)
        assert not alive, "the render process outlived its worker"

        project = wait_for(http, created["id"], timeout_s=120)
        assert project["status"] == "complete", project
        assert project["credits_charged"] == LONG_FRAMES  # settled once
        assert balance(http) == before - LONG_FRAMES
    # Claimed twice (the killed worker, then the survivor), settled once.
    row = _row(db, created["id"])
    assert row.attempts == 2 and row.lease_until is None
    running.start_worker()  # back to two for the tests that follow


def test_redis_restart_loses_no_job(running, inputs):
    """The broker restarts without persistence: every queued message is gone. Jobs created while
    it is down are still accepted; the sweepers publish every queued job again."""
    with running.servers[0].client() as http:
        before = balance(http)
        with ThreadPoolExecutor(4) as pool:
            created = pool.map(lambda _: lip_sync(http, *inputs, end=1.0, max_fps=5.0), range(3))
            ids = [answer.json()["id"] for answer in created]
        running.redis.stop()
        while_down = lip_sync(http, *inputs, end=1.0, max_fps=5.0)
        assert while_down.status_code == 200, while_down.text
        ids.append(while_down.json()["id"])
        time.sleep(1.0)
        running.redis.start()

        projects = [wait_for(http, project_id, timeout_s=180) for project_id in ids]
        assert [project["status"] for project in projects] == ["complete"] * len(ids), projects
        assert all(project["credits_charged"] == 5 for project in projects)
        assert balance(http) == before - 5 * len(ids)


def test_stale_rendering_job_is_requeued_or_failed_and_refunded(running, db, inputs):
    """A job left 'rendering' by a worker that vanished without a trace (lease long past): the
    sweeper re-queues it, or, when it has used up its attempts, fails and refunds it."""
    for worker in running.workers:
        worker.stop()
    with running.servers[0].client() as http:
        before = balance(http)
        retried, spent = (lip_sync(http, *inputs, end=1.0, max_fps=5.0).json()["id"] for _ in range(2))
        assert balance(http) == before - 60
        with db.session() as session:
            for project_id, attempts in ((retried, 1), (spent, MAX_ATTEMPTS)):
                session.execute(update(Project).where(Project.id == project_id).values(
                    status="rendering", claim_token="vanished", lease_until=time.time() - 1,
                    attempts=attempts, started_at=time.time() - 60))
        running.start_worker()

        failed = wait_for(http, spent, timeout_s=60)
        assert failed["status"] == "error" and failed["error"]["code"] == "unknown_error"
        assert f"stopped {MAX_ATTEMPTS} times" in failed["error"]["message"]
        assert failed["credits_charged"] == 0
        done = wait_for(http, retried, timeout_s=120)
        assert done["status"] == "complete" and done["credits_charged"] == 5
        assert balance(http) == before - 5
    assert _row(db, retried).attempts == 2


def test_database_cut_answers_503_then_recovers(running):
    """An API process whose PostgreSQL connection goes through a proxy we can cut."""
    proxy = TcpProxy(PG_PORT)
    url = running.env["OPENLIPSYNC_DATABASE_URL"].replace(f":{PG_PORT}/", f":{proxy.port}/")
    try:
        api = running.start_api({"OPENLIPSYNC_DATABASE_URL": url})
        with api.client() as http:
            assert http.get("/v1/account").status_code == 200
            proxy.cut()
            for answer in (http.get("/v1/account"), http.get("/health"),
                           http.post("/v1/files/upload-urls", json={"items": [{"type": "video",
                                                                                 "extension": "mp4"}]})):
                assert answer.status_code == 503, answer.text
                assert answer.headers["content-type"] == "application/json"
                assert "database" in answer.json()["message"] and answer.headers["retry-after"]
            proxy.restore()
            deadline = time.monotonic() + 20
            while (status := http.get("/v1/account").status_code) != 200 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert status == 200
            assert http.get("/health").json()["status"] == "ok"
        assert api.process.poll() is None, "the API process died with its database"
    finally:
        proxy.close()
