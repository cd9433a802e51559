"""What an operator sees: Prometheus metrics, JSON logs that follow a request into its render, a
server log free of the models' native chatter, and a clipped range reported as it was rendered.

Against the real server (embedded) and a real cluster (PostgreSQL, Redis, S3, a worker process).
"""

from __future__ import annotations

import json
import re

import httpx
import pytest

from tests.cluster import cluster, free_port
from tests.conftest import shared_media
from tests.server import running_server, start_server, upload, wait_for

TOKEN = "scrape-me-0123456789"
CLIP = "woman_flags.mp4"  # 5.0 s long
SPEECH = "speech_en_a.wav"
#: What MediaPipe and TensorFlow Lite write to descriptor 2 while loading and running their models.
NATIVE_CHATTER = re.compile(r"absl::|TensorFlow Lite|XNNPACK|^[WI]\d{4} |gl_context|inference_feedback|"
                            r"landmark_projection|Feedback manager", re.M)


def _sample(text: str, name: str, labels: str = "") -> float:
    """The value of one sample in Prometheus' text format; 0 when the series is absent."""
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def _json_lines(log: str) -> list[dict]:
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


def _clipped_job(client: httpx.Client, request_id: str) -> tuple[httpx.Response, dict]:
    """A lite job asking for 4.5-9 s of a 5 s clip, created under ``request_id``; its final state."""
    video, audio = upload(client, shared_media(CLIP), "video"), upload(client, shared_media(SPEECH), "audio")
    body = {"assets": {"video_source": "file", "video_file_path": video, "audio_file_path": audio},
            "start_seconds": 4.5, "end_seconds": 9.0, "max_fps_limit": 10}
    created = client.post("/v1/lip-sync", json=body, headers={"x-request-id": request_id})
    assert created.status_code == 200, created.text
    return created, wait_for(client, created.json()["id"], timeout_s=180)


def test_metrics_logs_and_a_clipped_range_on_one_server(tmp_path):
    env = {"OPENLIPSYNC_METRICS_TOKEN": TOKEN}
    server = start_server(tmp_path / "data", env, args=("--log-level", "info"))
    try:
        _check_one_server(server)
    except BaseException:
        print(f"--- server log ---\n{server.log()}")
        raise
    finally:
        server.stop()


def _check_one_server(server) -> None:
    with server.client() as client:
        assert client.get("/metrics").status_code == 401  # the API key is not the metrics token
        refused = httpx.get(f"{server.url}/metrics", headers={"authorization": "Bearer wrong"})
        assert refused.status_code == 401 and "OPENLIPSYNC_METRICS_TOKEN" in refused.json()["message"]

        created, project = _clipped_job(client, "req-clip-42")
        assert created.headers["x-request-id"] == "req-clip-42"
        assert project["status"] == "complete", project
        # The clip ends at 5 s: the project says so, and says why, instead of the 9 s asked for.
        assert project["end_seconds"] == pytest.approx(5.0)
        assert any("clipped" in note and "5 s long" in note for note in project["notes"]), project["notes"]
        listed = client.get("/v1/video-projects").json()["items"][0]
        assert listed["end_seconds"] == pytest.approx(5.0)  # what the web history shows

        metrics = httpx.get(f"{server.url}/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert _sample(text, "openlipsync_jobs", '{status="complete"}') == 1
    assert _sample(text, "openlipsync_queue_depth") == 0
    assert _sample(text, "openlipsync_database_up") == 1
    assert _sample(text, "openlipsync_render_seconds_count", '{mode="lite"}') == 1
    assert _sample(text, "openlipsync_jobs_completed_total", '{mode="lite"}') == 1
    # Every credit accounted for: charged minus refunded is what the project cost.
    charged = _sample(text, "openlipsync_credits_charged_total")
    refunded = _sample(text, "openlipsync_credits_refunded_total")
    assert charged == 135  # the estimate: 4.5 s asked for, at 30 fps
    assert charged - refunded == project["credits_charged"] > 0
    assert _sample(text, "openlipsync_http_request_duration_seconds_count",
                   '{method="POST",route="/v1/lip-sync",status="200"}') == 1
    assert 'route="/v1/video-projects/{project_id}"' in text  # templates, not one series per id

    log = server.log()
    lines = _json_lines(log)
    request = [e for e in lines if e.get("message") == "request" and e.get("route") == "/v1/lip-sync"]
    assert request and request[0]["request_id"] == "req-clip-42" and request[0]["status"] == 200
    ended = [e for e in lines if e.get("message") == "render ended"]
    assert len(ended) == 1 and ended[0]["request_id"] == "req-clip-42"
    assert ended[0]["project_id"] == project["id"] and ended[0]["outcome"] == "done"
    assert not NATIVE_CHATTER.search(log), log


def test_metrics_are_off_without_a_token(tmp_path):
    with running_server(tmp_path / "data") as server:
        answer = httpx.get(f"{server.url}/metrics", headers={"authorization": f"Bearer {server.key}"})
        assert answer.status_code == 404 and "OPENLIPSYNC_METRICS_TOKEN" in answer.json()["message"]


def test_cluster_worker_metrics_port_and_request_id(tmp_path):
    """The worker has no API: its render counters are scraped on its metrics port, the cluster's
    gauges from the database on any process; the request id reaches the worker's log."""
    port = free_port()
    with cluster(tmp_path / "c", {"OPENLIPSYNC_METRICS_TOKEN": TOKEN}) as running:
        api = running.start_api()
        worker = running.start_worker({"OPENLIPSYNC_METRICS_PORT": str(port)})
        with api.client() as client:
            created, project = _clipped_job(client, "req-cluster-7")
        assert project["status"] == "complete", project
        assert project["end_seconds"] == pytest.approx(5.0)

        scraped = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert _sample(scraped, "openlipsync_render_seconds_count", '{mode="lite"}') == 1
        assert _sample(scraped, "openlipsync_jobs", '{status="complete"}') == 1
        on_api = httpx.get(f"{api.url}/metrics", headers={"authorization": f"Bearer {TOKEN}"}).text
        assert _sample(on_api, "openlipsync_jobs", '{status="complete"}') == 1
        assert _sample(on_api, "openlipsync_render_seconds_count", '{mode="lite"}') == 0  # not rendered here
        # Charged on the API process, settled on the worker: together they balance.
        charged = sum(_sample(t, "openlipsync_credits_charged_total") for t in (scraped, on_api))
        refunded = sum(_sample(t, "openlipsync_credits_refunded_total") for t in (scraped, on_api))
        assert charged - refunded == project["credits_charged"]

        ended = [e for e in _json_lines(worker.log()) if e.get("message") == "render ended"]
        assert ended and ended[0]["request_id"] == "req-cluster-7", worker.log()
        assert not NATIVE_CHATTER.search(worker.log()), worker.log()
