"""URL and YouTube inputs: fetched by the worker through the SSRF guard, which the operator's
allow-list opens for a media server on loopback."""

from __future__ import annotations

import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import shared_media
from tests.server import balance, lip_sync, running_server, upload, wait_for

SERVED = ("woman_flags.mp4", "speech_en_b.wav")


class _Media(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.hits.append(self.path)
        name = self.path.removeprefix("/media/")
        if name not in SERVED:
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        path = shared_media(name)
        self.send_response(200)
        self.send_header("content-length", str(path.stat().st_size))
        self.end_headers()
        with open(path, "rb") as source:
            shutil.copyfileobj(source, self.wfile)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def origin():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Media)
    server.hits = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", server.hits
    server.shutdown()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {"OPENLIPSYNC_REMOTE_ALLOW": "127.0.0.1, media.internal"}
    with running_server(tmp_path_factory.mktemp("remote"), env=env) as server:
        yield server


def test_url_inputs_on_an_allowed_host_render(server, origin):
    base, hits = origin
    with server.client() as http:
        created = lip_sync(http, f"{base}/media/woman_flags.mp4", f"{base}/media/speech_en_b.wav")
        assert created.status_code == 200, created.text
        project = wait_for(http, created.json()["id"])
    assert project["status"] == "complete", project["error"]
    assert project["credits_charged"] == 10 and len(project["downloads"]) == 1
    assert sorted(hits) == ["/media/speech_en_b.wav", "/media/woman_flags.mp4"]


def test_missing_remote_file_fails_the_job(server, origin):
    base, _ = origin
    with server.client() as http:
        before = balance(http)
        audio = upload(http, shared_media("speech_en_a.wav"), "audio")
        project = wait_for(http, lip_sync(http, f"{base}/media/gone.mp4", audio).json()["id"])
        assert project["status"] == "error" and project["error"]["code"] == "invalid_video_file"
        assert "HTTP 404" in project["error"]["message"]
        assert balance(http) == before


def test_youtube_that_cannot_be_read_is_invalid_youtube_url(server):
    with server.client() as http:
        before = balance(http)
        audio = upload(http, shared_media("speech_en_a.wav"), "audio")
        body = {"assets": {"video_source": "youtube", "youtube_url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
                           "audio_file_path": audio},
                "start_seconds": 0.0, "end_seconds": 1.0}
        created = http.post("/v1/lip-sync", json=body)
        assert created.status_code == 200, created.text
        project = wait_for(http, created.json()["id"])
        assert project["status"] == "error" and project["error"]["code"] == "invalid_youtube_url"
        assert "YouTube" in project["error"]["message"]
        assert project["credits_charged"] == 0 and balance(http) == before
