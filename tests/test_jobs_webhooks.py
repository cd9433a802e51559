"""Webhooks to receivers on loopback: Magic Hour's body and signature, retries with backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import shared_media
from tests.server import lip_sync, running_server, upload, validate, wait_for, webhook_schema

BACKOFF = 0.3


class Receiver(ThreadingHTTPServer):
    """Records every POST; answers 500 to the first ``failures`` of them."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.failures = failures
        self.secret = ""
        self.received: list[tuple[float, dict, bytes]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def events(self) -> list[dict]:
        """Bodies of the requests answered 2xx, after checking each signature."""
        out = []
        with self.lock:
            accepted = self.received[self.failures:]
        for _, headers, body in accepted:
            timestamp = headers["magic-hour-event-timestamp"]
            signed = f"{timestamp}.".encode() + body
            expected = hmac.new(self.secret.encode(), signed, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers["magic-hour-event-signature"], expected)
            assert abs(time.time() - int(timestamp)) < 300
            assert headers["content-type"] == "application/json"
            out.append(json.loads(body))
        return out


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["content-length"]))
        with self.server.lock:
            headers = {name.lower(): value for name, value in self.headers.items()}
            self.server.received.append((time.monotonic(), headers, body))
            status = 500 if len(self.server.received) <= self.server.failures else 200
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {"OPENLIPSYNC_WEBHOOK_BACKOFF_BASE_S": str(BACKOFF)}
    with running_server(tmp_path_factory.mktemp("webhooks"), env=env) as server:
        yield server


def _wait(condition, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_events_are_signed_and_a_failing_receiver_is_retried(server, tmp_path):
    good, flaky = Receiver(), Receiver(failures=2)
    for receiver in (good, flaky):
        row = server.cli_json("webhooks", "add", receiver.url)[0]
        assert row["secret"].startswith("whsec_")
        receiver.secret, receiver.hook_id = row["secret"], row["id"]
    assert {h["url"] for h in server.cli_json("webhooks", "list")} == {good.url, flaky.url}

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 100)
    with server.client() as http:
        audio = upload(http, shared_media("speech_en_a.wav"), "audio")
        ok = lip_sync(http, upload(http, shared_media("woman_flags.mp4"), "video"), audio).json()["id"]
        bad = lip_sync(http, upload(http, broken, "video"), audio).json()["id"]
        final = {ok: wait_for(http, ok), bad: wait_for(http, bad)}
    assert final[ok]["status"] == "complete" and final[bad]["status"] == "error"

    _wait(lambda: len(good.events()) == 4 and len(flaky.events()) == 4)
    for receiver in (good, flaky):
        seen = {(event["payload"]["id"], event["type"]): event for event in receiver.events()}
        assert set(seen) == {(ok, "video.started"), (ok, "video.completed"), (bad, "video.started"),
                             (bad, "video.errored")}
        for (project_id, kind), event in seen.items():
            validate(event, webhook_schema(kind))
            payload, current = event["payload"], final[project_id]
            assert payload["status"] == {"video.started": "rendering", "video.completed": "complete",
                                         "video.errored": "error"}[kind]
            if kind != "video.started":
                for key in ("credits_charged", "fps", "width", "height", "error", "name", "created_at"):
                    assert payload[key] == current[key], key
        assert len(seen[(ok, "video.completed")]["payload"]["downloads"]) == 1

    # The flaky receiver's first event came three times, at growing intervals.
    first_body = flaky.received[0][2]
    times = [at for at, _, body in flaky.received if body == first_body]
    assert len(times) == 3
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert gaps[0] >= BACKOFF * 0.9 and gaps[1] >= 2 * BACKOFF * 0.9, gaps
    deliveries = server.cli_json("webhooks", "deliveries")
    assert len(deliveries) == 8 and all(d["status"] == "delivered" for d in deliveries)
    retried = [d for d in deliveries if d["attempts"] > 1]
    assert len(retried) == 1 and retried[0]["attempts"] == 3 and retried[0]["webhook"] == flaky.hook_id

    server.cli("webhooks", "remove", flaky.hook_id)
    assert flaky.hook_id not in {h["id"] for h in server.cli_json("webhooks", "list")}
    assert all(d["webhook"] != flaky.hook_id for d in server.cli_json("webhooks", "deliveries"))
