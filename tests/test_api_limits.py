"""Per-key limits through the real API, embedded and as a cluster: requests per minute (429 with
Retry-After and a JSON message, one budget for every API process), queued jobs, upload slots and
upload bytes, single-use upload URLs, an admin lifting a limit; and an upload that cannot stall
other requests."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack

import httpx
import pytest

from openlipsync.jobs.delivery.signing import Signer
from tests.cluster import cluster
from tests.conftest import shared_media
from tests.server import MODES, balance, lip_sync, running_server, start_server, upload

SECRET = "limits-signing-secret-of-32-chars!"


@pytest.fixture(scope="module", params=MODES)
def server(request, tmp_path_factory):
    # No render workers: jobs stay queued, so the job limits are what the tests set them to.
    env = {"OPENLIPSYNC_WORKERS": "0", "OPENLIPSYNC_SECRET_KEY": SECRET}
    with running_server(tmp_path_factory.mktemp("limits"), env=env, mode=request.param) as server:
        yield server


def _limited(server, **limits: int) -> str:
    """A new key with ``limits`` set by the admin command."""
    secret = server.create_key(credits=10_000, name="limited")
    key_id = next(row["id"] for row in server.cli_json("keys", "list") if secret.startswith(row["prefix"]))
    args = [item for name, value in limits.items() for item in (f"--{name.replace('_', '-')}", str(value))]
    rows = server.cli_json("keys", "limits", key_id, *args)
    assert all(rows[0][name] == value for name, value in limits.items())
    server.extra.setdefault("key_ids", {})[secret] = key_id
    return secret


def _same_minute(needed_s: float = 8) -> None:
    """Start a burst early in a minute, so the per-minute window does not turn over during it."""
    left = 60 - time.time() % 60
    if left < needed_s:
        time.sleep(left + 0.2)


def _burst_until_429(clients: list[httpx.Client], limit: int) -> httpx.Response:
    for index in range(limit):
        answer = clients[index % len(clients)].get("/v1/account")
        assert answer.status_code == 200, (index, answer.text)
    return clients[0].get("/v1/account")


def _assert_429(answer: httpx.Response) -> None:
    assert answer.status_code == 429 and answer.headers["content-type"] == "application/json"
    assert "Too many requests" in answer.json()["message"]
    assert 1 <= int(answer.headers["retry-after"]) <= 60


def test_requests_per_minute_429_then_lifted_by_the_admin(server):
    secret = _limited(server, rate_limit_per_minute=10)
    _same_minute()
    with server.client(key=secret) as http, server.client() as other:
        _assert_429(_burst_until_429([http], 10))
        assert other.get("/v1/account").status_code == 200  # other keys are not held up
        server.cli("keys", "limits", server.extra["key_ids"][secret], "--rate-limit-per-minute", "0")
        assert http.get("/v1/account").status_code == 200


def test_queued_jobs_are_limited_and_a_refused_job_costs_nothing(server):
    secret = _limited(server, max_queued_jobs=2)
    with server.client(key=secret) as http:
        video = upload(http, shared_media("woman_flags.mp4"), "video")
        audio = upload(http, shared_media("speech_en_a.wav"), "audio")
        first, second = (lip_sync(http, video, audio).json()["id"] for _ in range(2))
        before = balance(http)
        refused = lip_sync(http, video, audio)
        assert refused.status_code == 429 and "Too many jobs" in refused.json()["message"]
        assert balance(http) == before
        assert http.delete(f"/v1/video-projects/{first}").status_code == 204  # queued: refunded in full
        assert balance(http) == before + 30
        assert lip_sync(http, video, audio).status_code == 200
        assert http.delete(f"/v1/video-projects/{second}").status_code == 204


def test_upload_slots_and_bytes_are_limited(server):
    secret = _limited(server, max_pending_uploads=3, max_upload_storage_bytes=150_000)
    with server.client(key=secret) as http:
        items = [{"type": "audio", "extension": "wav"}] * 2
        slots = http.post("/v1/files/upload-urls", json={"items": items}).json()["items"]
        refused = http.post("/v1/files/upload-urls", json={"items": items})
        assert refused.status_code == 429 and "Too many upload URLs" in refused.json()["message"]
        assert httpx.put(slots[0]["upload_url"], content=b"\0" * 100_000).is_success
        # The API's own PUT (on S3 too) refuses what would overfill the key's storage; S3 in
        # direct-upload mode: test_store_s3_caps.py::test_direct_mode_refuses_at_job_creation.
        answer = httpx.put(slots[1]["upload_url"], content=b"\0" * 60_000)
        assert answer.status_code == 413 and "50000 bytes left" in answer.json()["message"]
        assert server.stored_size(slots[1]["file_path"]) is None


def test_an_upload_url_works_once(server):
    with server.client() as http:
        slot = http.post("/v1/files/upload-urls", json={"items": [{"type": "audio", "extension": "wav"}]})
    item = slot.json()["items"][0]
    url = item["upload_url"]  # the API's own route on every store (S3 too, unless direct uploads)
    assert url.startswith(f"{server.url}/uploads/"), url
    assert httpx.put(url, content=b"first").status_code == 200
    again = httpx.put(url, content=b"second, larger")
    assert again.status_code == 409 and "used already" in again.json()["message"]
    assert server.stored_size(item["file_path"]) == len(b"first")


def test_a_large_upload_does_not_stall_other_requests(server):
    """The PUT writes and stores off the event loop: /health answers all along. With S3 behind the
    API's route the commit is a multi-second upload; done inline it held every request for the
    whole of it (7 s for these 400 MB when measured; now well under a second, and the bound leaves
    room for a busy machine)."""
    with server.client() as http:
        item = http.post("/v1/files/upload-urls",
                         json={"items": [{"type": "video", "extension": "mp4"}]}).json()["items"][0]
    path = f"/uploads/{item['file_path']}"
    url = f"{server.url}{path}?{Signer(SECRET.encode()).sign('PUT', path, 600)[0]}"
    body = b"\1" * (400 * 1024 * 1024)
    done, slowest = threading.Event(), [0.0]

    def poll() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            while not done.is_set():
                began = time.monotonic()
                assert client.get("/health").status_code == 200
                slowest[0] = max(slowest[0], time.monotonic() - began)
                time.sleep(0.02)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        assert httpx.put(url, content=body, timeout=300).status_code == 200
    finally:
        done.set()
        poller.join(30)
    assert server.stored_size(item["file_path"]) == len(body)
    assert slowest[0] < 3.0, f"/health took {slowest[0]:.2f} s during the upload"


@pytest.mark.parametrize("mode", MODES)
def test_one_request_budget_for_every_api_process(mode, tmp_path):
    """Two API processes count one key's requests together: Redis in a cluster, the shared
    database (SQLite here) without a broker."""
    with ExitStack() as stack:
        if mode == "cluster":
            running = stack.enter_context(cluster(tmp_path, {"OPENLIPSYNC_WORKERS": "0"}))
            servers = [running.start_api(), running.start_api()]
        else:
            first = start_server(tmp_path, {"OPENLIPSYNC_WORKERS": "0"})
            stack.callback(first.stop)
            second = start_server(tmp_path, {"OPENLIPSYNC_WORKERS": "0"}, key=first.key)
            stack.callback(second.stop)
            servers = [first, second]
        secret = _limited(servers[0], rate_limit_per_minute=10)
        _same_minute()
        clients = [stack.enter_context(server.client(key=secret)) for server in servers]
        _assert_429(_burst_until_429(clients, 10))
        _assert_429(clients[1].get("/v1/account"))
