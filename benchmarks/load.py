"""Load: N concurrent clients creating, polling, downloading and deleting short jobs for a fixed
time, against one embedded server and against a cluster (1 API process, 2 workers).

Everything runs on loopback on this machine: the servers, PostgreSQL, Redis and S3 (moto) of the
cluster, and the clients. Each client loops: upload a clip and a voice (deleting a project
deletes its inputs), create a 1 s lite job, poll it every 0.25 s, download the output, delete
the project. Latency is measured by the clients,
per route template. At the end the credits are audited three ways: the key's balance change, the
sum of what its projects were charged (from the database, deleted projects included), and the
servers' own counters (credits charged minus refunded, from /metrics), which must all agree.

    .venv/bin/python -m benchmarks.load [--clients 4] [--seconds 60] [--shape embedded|cluster|both]
"""

from __future__ import annotations

import argparse
import logging
import re
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import func, select

from benchmarks.report import media, write_section
from openlipsync.store.db import Database
from openlipsync.store.models import Project
from tests.cluster import cluster, free_port
from tests.server import TERMINAL, Server, start_server

CLIP, SPEECH = "woman_flags.mp4", "speech_en_a.wav"
#: A short job: 1 s of a 590x590 clip at 10 fps (10 frames, lite).
JOB = {"start_seconds": 0.0, "end_seconds": 1.0, "max_fps_limit": 10.0}
TOKEN = "load-benchmark-metrics"
CREDITS = 10_000_000
POLL_S = 0.25


@dataclass
class Tally:
    """What the clients saw, shared between their threads."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    completed: int = 0
    failed: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, route: str, call, *args, **kwargs) -> httpx.Response:
        """``call(*args, **kwargs)``, its latency recorded under ``route``."""
        began = time.perf_counter()
        answer = call(*args, **kwargs)
        with self.lock:
            self.latencies[route].append(time.perf_counter() - began)
        return answer


@dataclass
class Target:
    """A running shape: where its API is, its database, and where its metrics are scraped."""

    server: Server
    database_url: str
    metrics_urls: list[str]
    #: Whether downloads go to the API (embedded) or straight to the object store (cluster).
    download_route: str


def _upload(http: httpx.Client, tally: Tally, path: Path, kind: str) -> str:
    """Upload ``path`` as the SDK does (upload URL, then a PUT of the bytes); its file_path."""
    items = {"items": [{"type": kind, "extension": path.suffix.lstrip(".")}]}
    answer = tally.timed("POST /v1/files/upload-urls", http.post, "/v1/files/upload-urls", json=items)
    slot = answer.json()["items"][0]
    tally.timed(f"PUT upload ({kind})", httpx.put, slot["upload_url"], content=path.read_bytes(), timeout=60)
    return slot["file_path"]


def _job(http: httpx.Client, target: Target, tally: Tally, video: Path, audio: Path) -> str | None:
    """One short job from upload to delete; what went wrong, or None."""
    assets = {"video_source": "file", "video_file_path": _upload(http, tally, video, "video"),
              "audio_file_path": _upload(http, tally, audio, "audio")}
    created = tally.timed("POST /v1/lip-sync", http.post, "/v1/lip-sync", json={"assets": assets, **JOB})
    if created.status_code != 200:
        return f"create {created.status_code}: {created.text[:200]}"
    path = f"/v1/video-projects/{created.json()['id']}"
    while True:
        project = tally.timed("GET /v1/video-projects/{id}", http.get, path).json()
        if project["status"] in TERMINAL:
            break
        time.sleep(POLL_S)
    if project["status"] != "complete":
        return f"job {project['id']} {project['status']}: {project['error']}"
    output = tally.timed(target.download_route, httpx.get, project["downloads"][0]["url"], timeout=60)
    if output.status_code != 200 or not output.content:
        return f"download {output.status_code}"
    deleted = tally.timed("DELETE /v1/video-projects/{id}", http.delete, path)
    return None if deleted.status_code == 204 else f"delete {deleted.status_code}"


def _client(target: Target, key: str, deadline: float, tally: Tally) -> None:
    """One client: short jobs one after another until the deadline; it stops at its first failure."""
    video, audio = media(CLIP), media(SPEECH)
    with target.server.client(key) as http:
        while time.monotonic() < deadline:
            problem = _job(http, target, tally, video, audio)
            with tally.lock:
                if problem:
                    tally.failed.append(problem)
                    return
                tally.completed += 1
        tally.timed("GET /v1/account", http.get, "/v1/account")


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def _audit(target: Target, key: str, key_id: str) -> dict:
    """The credits three ways; they must be equal."""
    with target.server.client(key) as http:
        spent = CREDITS - http.get("/v1/account").json()["credits"]
    db = Database(target.database_url)
    with db.session() as session:
        charged = session.scalar(select(func.coalesce(func.sum(Project.credits_charged), 0))
                                 .where(Project.key_id == key_id))
        by_status = (select(Project.status, func.count()).where(Project.key_id == key_id)
                     .group_by(Project.status))
        statuses = dict(session.execute(by_status).all())
    db.dispose()
    net = 0.0
    for url in target.metrics_urls:
        text = httpx.get(url, headers={"authorization": f"Bearer {TOKEN}"}, timeout=10).text
        net += _metric(text, "openlipsync_credits_charged_total")
        net -= _metric(text, "openlipsync_credits_refunded_total")
    return {"spent": spent, "charged": charged, "metrics": int(net), "statuses": statuses,
            "ok": spent == charged == int(net)}


def _run(target: Target, clients: int, seconds: float) -> dict:
    created = target.server.cli_json("keys", "create", "--name", "load", "--credits", str(CREDITS))[0]
    key, key_id = created["secret"], created["id"]
    tally = Tally()
    began = time.monotonic()
    deadline = began + seconds
    threads = [threading.Thread(target=_client, args=(target, key, deadline, tally))
               for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - began
    return {"tally": tally, "wall": wall, "audit": _audit(target, key, key_id)}


@contextmanager
def _embedded(folder: Path):
    env = {"OPENLIPSYNC_WORKERS": "2", "OPENLIPSYNC_METRICS_TOKEN": TOKEN}
    server = start_server(folder / "data", env)
    try:
        yield Target(server, f"sqlite:///{folder / 'data' / 'openlipsync.db'}", [f"{server.url}/metrics"],
                     "GET /downloads/{id}/{file}")
    finally:
        server.stop()


@contextmanager
def _cluster(folder: Path):
    with cluster(folder, {"OPENLIPSYNC_WORKERS": "1", "OPENLIPSYNC_METRICS_TOKEN": TOKEN}) as running:
        api = running.start_api()
        ports = [free_port(), free_port()]
        for port in ports:
            running.start_worker({"OPENLIPSYNC_METRICS_PORT": str(port)})
        yield Target(api, running.env["OPENLIPSYNC_DATABASE_URL"],
                     [f"{api.url}/metrics", *(f"http://127.0.0.1:{port}/metrics" for port in ports)],
                     "GET presigned S3 URL (moto, not the API)")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


def _table(name: str, result: dict, clients: int) -> str:
    tally, audit = result["tally"], result["audit"]
    rows = [f"| {route} | {len(values)} | {statistics.median(values) * 1000:.0f} | "
            f"{_percentile(values, 0.99) * 1000:.0f} |" for route, values in sorted(tally.latencies.items())]
    per_hour = tally.completed / result["wall"] * 3600
    statuses = ", ".join(f"{status} {count}" for status, count in sorted(audit["statuses"].items()))
    failures = f"{len(tally.failed)} failures" + (": " + "; ".join(tally.failed[:3]) if tally.failed else "")
    return "\n".join([
        f"**{name}**: {clients} clients for {result['wall']:.0f} s: {tally.completed} jobs completed "
        f"({per_hour:.0f} jobs/hour), {failures}.",
        "",
        "| route | requests | p50 ms | p99 ms |",
        "|---|---|---|---|",
        *rows,
        "",
        f"Credits: balance down by {audit['spent']}, projects charged {audit['charged']}, servers' counters "
        f"(charged - refunded) {audit['metrics']}: {'all equal' if audit['ok'] else 'MISMATCH'}. "
        f"Projects of the run by status: {statuses}.",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--shape", choices=["embedded", "cluster", "both"], default="both")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's S3 server logs every request
    shapes = {"embedded": ("Embedded (one `serve`, 2 render slots)", _embedded),
              "cluster": ("Cluster (1 API, 2 workers of 1 slot; PostgreSQL, Redis, S3 in moto)", _cluster)}
    chosen = list(shapes) if args.shape == "both" else [args.shape]
    parts = []
    with tempfile.TemporaryDirectory(prefix="openlipsync-load-") as folder:
        for name in chosen:
            title, start = shapes[name]
            with ExitStack() as stack:
                target = stack.enter_context(start(Path(folder) / name))
                result = _run(target, args.clients, args.seconds)
            parts.append(_table(title, result, args.clients))
            print(parts[-1], flush=True)
            if not result["audit"]["ok"]:
                raise SystemExit("credit audit failed: " + repr(result["audit"]))
    seconds = JOB["end_seconds"] - JOB["start_seconds"]
    body = f"""Each client loops for {args.seconds:g} s: upload a clip and a voice, create a {seconds:g} s
lite job of `{CLIP}` at {JOB['max_fps_limit']:g} fps, poll it every {POLL_S:g} s, download the
output, delete the project (which deletes its inputs too). Latencies are the clients' (loopback), per route.
Jobs/hour counts completed, downloaded jobs over the run's wall time (the last jobs finish after
the deadline); the render itself (a fresh process per job that imports the engine and loads the
models) dominates. The two shapes run one after the other on the same machine, so a busy
machine (see the load average) moves their numbers apart; compare runs at a similar load.

""" + "\n\n".join(parts)
    command = f"python -m benchmarks.load --clients {args.clients} --seconds {args.seconds:g}"
    if args.shape == "both":
        write_section("load", "Load: concurrent clients, embedded and cluster", body, command)


if __name__ == "__main__":
    main()
