"""Durability: stop the server mid-render (SIGTERM or SIGKILL), start it again; every job ends,
and credits come out right (settled when it completes, refunded when it is given up)."""

from __future__ import annotations

import time

import psutil

from openlipsync.store.db import Database
from openlipsync.store.models import Project
from tests.conftest import shared_media
from tests.server import Server, balance, lip_sync, start_server, upload, wait_for

#: Short leases so a dead worker's claim runs out quickly.
ENV = {"OPENLIPSYNC_LEASE_S": "2"}


def _rendering(server: Server, project_id: str) -> list[psutil.Process]:
    """Wait until the job's render process is at work; returns the server's child processes."""
    with server.client() as http:
        deadline = time.monotonic() + 90
        while True:
            project = http.get(f"/v1/video-projects/{project_id}").json()
            if project["status"] == "rendering" and project["progress"] > 0:
                break
            assert project["status"] in ("queued", "rendering"), project
            assert time.monotonic() < deadline, "the job never started rendering"
            time.sleep(0.1)
    children = psutil.Process(server.process.pid).children(recursive=True)
    assert children, "no render process"
    return children


def _gone(processes: list[psutil.Process]) -> None:
    _, alive = psutil.wait_procs(processes, timeout=15)
    assert not alive, f"render processes outlived the server: {alive}"


def test_stop_and_kill_mid_render_then_restart(tmp_path):
    data = tmp_path / "data"
    server = start_server(data, ENV)
    key = server.key
    try:
        with server.client() as http:
            video = upload(http, shared_media("woman_indoor.mp4"), "video")
            audio = upload(http, shared_media("speech_en_a.wav"), "audio")
            before = balance(http)
            first = lip_sync(http, video, audio, start=0.0, end=8.0, max_fps=25.0).json()
            assert first["credits_charged"] == 240 and balance(http) == before - 240

        # SIGTERM: the server hands the job back to the queue on its way out.
        children = _rendering(server, first["id"])
        server.stop()
        _gone(children)
        db = Database(f"sqlite:///{data / 'openlipsync.db'}")
        with db.session() as session:
            row = session.get(Project, first["id"])
            assert (row.status, row.claim_token, row.attempts) == ("queued", None, 0)
        db.dispose()

        # SIGKILL: no shutdown code runs; the job's lease runs out and it is re-queued.
        server = start_server(data, ENV, key=key)
        children = _rendering(server, first["id"])
        server.kill()
        _gone(children)

        server = start_server(data, ENV, key=key)
        with server.client() as http:
            project = wait_for(http, first["id"], timeout_s=180)
            assert project["status"] == "complete", project["error"]
            assert project["credits_charged"] == 200  # 8 s at 25 fps, settled once
            assert balance(http) == before - 200
            second = lip_sync(http, video, audio, start=0.0, end=8.0, max_fps=25.0).json()
        children = _rendering(server, second["id"])
        server.kill()
        _gone(children)

        # With one attempt allowed, a job whose worker died is failed and refunded in full.
        server = start_server(data, {**ENV, "OPENLIPSYNC_MAX_ATTEMPTS": "1"}, key=key)
        with server.client() as http:
            project = wait_for(http, second["id"], timeout_s=60)
            assert project["status"] == "error" and project["error"]["code"] == "unknown_error"
            assert "stopped" in project["error"]["message"]
            assert project["credits_charged"] == 0 and balance(http) == before - 200
    except BaseException:
        print(server.log())
        raise
    finally:
        server.stop()
