"""Fencing: each attempt at a job writes its own output, only the attempt holding the lease
publishes, and a worker that lost its lease stops rendering within one heartbeat. Real database,
real blob folder, real render processes (held up on a remote input that never arrives)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
import pytest
from sqlalchemy import update

from openlipsync.core.config import Settings
from openlipsync.jobs.projects import lifecycle
from openlipsync.jobs.projects.catalog import delete_project
from openlipsync.jobs.rendering.runner import ProjectRunner
from openlipsync.store.blobs import LocalBlobStore
from openlipsync.store.db import Database, upgrade
from openlipsync.store.models import QUEUED, ApiKey, Project, now
from tests.cluster import TcpProxy, postgres_database

SUMMARY = {"frames": 30, "fps": 30.0, "width": 64, "height": 64, "end_seconds": 1.0, "notes": []}


def _no_events(*_) -> None:
    pass


def _setup(db: Database, audio: str = "http://example.com/a.wav") -> str:
    with db.session() as session:
        session.add(ApiKey(id="k" * 24, name="k", key_hash="h", prefix="p", credits=1000))
        project = Project(key_id="k" * 24, status=QUEUED, mode="lite", start_seconds=0, end_seconds=1,
                          video_source="file", video_input=audio, audio_input=audio, public_base_url="http://x",
                          estimate=30, credits_charged=30, fps=30, width=-1, height=-1, progress=0.0,
                          enabled=True, attempts=0, created_at=now())
        session.add(project)
    return project.id


@pytest.fixture
def sqlite_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'fencing.db'}"
    upgrade(url)
    db = Database(url)
    yield db
    db.dispose()


def test_a_stale_attempt_cannot_replace_or_delete_the_published_output(sqlite_db, tmp_path):
    db, blobs = sqlite_db, LocalBlobStore(tmp_path / "blobs")
    settings = Settings(data_dir=tmp_path, lease_s=30)
    runner = ProjectRunner(db, blobs, settings, _no_events)
    project_id = _setup(db)
    stale = lifecycle.claim(db, project_id, settings, _no_events)
    with db.session() as session:  # the first worker stalls; its lease runs out; the job goes back
        session.execute(update(Project).where(Project.id == project_id).values(lease_until=now() - 1))
    lifecycle.recover(db, max_attempts=3, emit=_no_events)
    fresh = lifecycle.claim(db, project_id, settings, _no_events)
    assert fresh is not None and fresh.token != stale.token

    for name, claim in (("fresh", fresh), ("stale", stale)):  # the fresh attempt finishes first
        work = tmp_path / name
        work.mkdir()
        (work / "output.mp4").write_bytes(name.encode() * 100)
        runner._settle(project_id, claim, ("done", SUMMARY), work)

    with db.session() as session:
        project = session.get(Project, project_id)
    assert project.status == "complete" and fresh.token in project.output_key
    assert b"".join(blobs.iter_range(project.output_key)) == b"fresh" * 100
    assert not list((tmp_path / "blobs" / "outputs" / project_id).glob(f"{stale.token}/*"))


def test_an_expired_lease_cannot_publish(sqlite_db):
    project_id = _setup(sqlite_db)
    claim = lifecycle.claim(sqlite_db, project_id, Settings(lease_s=30), _no_events)
    with sqlite_db.session() as session:
        session.execute(update(Project).where(Project.id == project_id).values(lease_until=now() - 1))
    assert not lifecycle.complete(sqlite_db, project_id, claim.token, SUMMARY, "outputs/x/y.mp4", _no_events)


class _Never(BaseHTTPRequestHandler):
    """An origin that accepts the request and never answers: the render waits on its input."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        time.sleep(60)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def never():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Never)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/a.wav"
    server.shutdown()


def _supervise(runner: ProjectRunner, db: Database, project_id: str, settings: Settings, tmp_path):
    """Start the render of ``project_id``; returns (claim, thread, result list, render process)."""
    claim = lifecycle.claim(db, project_id, settings, _no_events)
    result: list = []
    thread = threading.Thread(target=lambda: result.append(
        runner._supervise(claim, tmp_path, threading.Event())), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not (children := _render_processes()):
        assert time.monotonic() < deadline, "no render process"
        time.sleep(0.05)
    return claim, thread, result, children


def _render_processes() -> list[psutil.Process]:
    """This process's render children (spawned ones; not multiprocessing's resource tracker)."""
    return [child for child in psutil.Process().children(recursive=True)
            if "spawn_main" in " ".join(child.cmdline())]


def test_a_deleted_job_stops_rendering_within_one_heartbeat(sqlite_db, tmp_path, never):
    settings = Settings(data_dir=tmp_path, lease_s=1.5, remote_allow=["127.0.0.1"])
    project_id = _setup(sqlite_db, never)
    runner = ProjectRunner(sqlite_db, LocalBlobStore(tmp_path / "blobs"), settings, _no_events)
    _, thread, result, children = _supervise(runner, sqlite_db, project_id, settings, tmp_path)
    time.sleep(1.0)
    assert thread.is_alive()
    delete_project(sqlite_db, runner._blobs, "k" * 24, project_id)
    gone = time.monotonic()
    thread.join(10)
    assert result == [("lost",)]
    assert time.monotonic() - gone <= settings.lease_s / 3 + 1.5  # a heartbeat, and slack
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, "the render process outlived the lost claim"


def test_a_worker_cut_off_from_the_database_stops_when_its_lease_runs_out(tmp_path, never):
    settings = Settings(data_dir=tmp_path, lease_s=1.5, remote_allow=["127.0.0.1"])
    with postgres_database() as url:
        upgrade(url)
        proxy = TcpProxy()
        db = Database(url.replace(":5432/", f":{proxy.port}/"))
        try:
            project_id = _setup(db, never)
            runner = ProjectRunner(db, LocalBlobStore(tmp_path / "blobs"), settings, _no_events)
            _, thread, result, children = _supervise(runner, db, project_id, settings, tmp_path)
            time.sleep(0.7)
            proxy.cut()  # heartbeats fail from now on; the lease runs out meanwhile
            cut = time.monotonic()
            thread.join(15)
            assert result == [("lost",)]
            assert time.monotonic() - cut <= settings.lease_s + settings.lease_s / 3 + 3.5
            _, alive = psutil.wait_procs(children, timeout=5)
            assert not alive
        finally:
            proxy.close()
            db.dispose()
