"""The real ``openlipsync serve`` as a subprocess on a free loopback port, for tests.

``running_server(tmp_path)`` starts it with a fresh data folder and yields a ``Server`` with
its base URL and the first API key (which the server prints once on first start). Other
suites reuse it: ``from server import running_server``. ``mode="cluster"`` runs the same API
on PostgreSQL, a Celery broker and S3 with a separate worker process (``tests/cluster.py``);
the API suites run in both ``MODES``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

#: The configurations the API contract suites run in.
MODES = ("embedded", "cluster")
_URL = re.compile(r"serving on (http://\S+)")
_KEY = re.compile(r"first API key \(shown only now; keep it\): (\S+)")


@dataclass
class Server:
    #: Base URL, e.g. ``http://127.0.0.1:41583``.
    url: str
    #: The first API key, printed by the server on its first start.
    key: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen
    log_path: Path
    extra: dict = field(default_factory=dict)
    mode: str = "embedded"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stored_size(self, key: str) -> int | None:
        """Size of blob ``key`` in the server's storage (its blob folder, or the cluster's S3), or None."""
        if "s3" in self.extra:
            return self.extra["s3"].size(key)
        path = self.data_dir / "blobs" / key
        return path.stat().st_size if path.is_file() else None

    def stored_under(self, prefix: str) -> list[str]:
        """Keys of the blobs under ``prefix`` (e.g. ``outputs/<id>/``) in the server's storage."""
        if "s3" in self.extra:
            listing = self.extra["s3"].client.list_objects_v2(Bucket="openlipsync-test", Prefix=prefix)
            return sorted(item["Key"] for item in listing.get("Contents", []))
        root = self.data_dir / "blobs"
        return sorted(str(path.relative_to(root)) for path in (root / prefix).rglob("*") if path.is_file())

    def client(self, key: str | None = None, **kwargs) -> httpx.Client:
        """An httpx client on the server, authenticated with ``key`` (default: the first key)."""
        token = self.key if key is None else key
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)

    def cli(self, *args: str) -> str:
        """Run ``openlipsync ARGS`` on the same data folder; returns stdout, fails on error."""
        done = subprocess.run([sys.executable, "-m", "openlipsync.cli", *args], env=self.env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"openlipsync {' '.join(args)} failed:\n{done.stderr}"
        return done.stdout

    def cli_json(self, *args: str) -> list[dict]:
        return [json.loads(line) for line in self.cli(*args, "--json").splitlines() if line.strip()]

    def create_key(self, credits: int, name: str = "test") -> str:
        """A fresh key with ``credits``; returns its secret."""
        return self.cli_json("keys", "create", "--name", name, "--credits", str(credits))[0]["secret"]

    def kill(self) -> None:
        """SIGKILL: the crash case (no shutdown code runs)."""
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.kill()


def start_server(data_dir: Path, env: dict[str, str] | None = None, key: str | None = None,
                 timeout_s: float = 60, args: tuple[str, ...] = ()) -> Server:
    """Start a server on ``data_dir`` (fresh or used before; pass the key a fresh start printed);
    ``args`` go to ``openlipsync serve`` after the address."""
    data_dir.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "OPENLIPSYNC_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **(env or {})}
    log_path = data_dir / f"server-{time.time_ns()}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "openlipsync.cli", "serve", "--host", "127.0.0.1", "--port", "0",
             "--log-level", "warning", *args],
            env=full_env, stdout=log, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout_s
    base_url = None
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        if process.poll() is not None:
            raise RuntimeError(f"openlipsync serve exited with {process.returncode}:\n{text}")
        if base_url is None and (match := _URL.search(text)):
            base_url = match.group(1)
        if key is None and (match := _KEY.search(text)):
            key = match.group(1)
        if base_url and _ready(base_url):
            break
        time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError(f"openlipsync serve did not come up in {timeout_s} s:\n{log_path.read_text()}")
    return Server(base_url, key or "", data_dir, full_env, process, log_path)


def _ready(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def running_server(data_dir: Path, env: dict[str, str] | None = None,
                   mode: str = "embedded") -> Iterator[Server]:
    """A server for the length of the block; its log is printed if the block fails."""
    if mode == "cluster":
        from tests.cluster import running_cluster_server

        with running_cluster_server(data_dir, env) as server:
            yield server
        return
    server = start_server(data_dir, env)
    try:
        yield server
    except BaseException:
        print(f"--- server log ({server.log_path}) ---\n{server.log()}")
        raise
    finally:
        server.stop()


TERMINAL = ("complete", "error", "canceled")


def upload(client: httpx.Client, path: Path, kind: str) -> str:
    """Upload ``path`` the way the SDK does (signed PUT, raw bytes); returns its file_path."""
    answer = client.post("/v1/files/upload-urls",
                         json={"items": [{"type": kind, "extension": path.suffix.lstrip(".").lower()}]})
    assert answer.status_code == 200, answer.text
    item = answer.json()["items"][0]
    put = httpx.put(item["upload_url"], content=path.read_bytes(), timeout=60)
    assert put.is_success, put.text
    return item["file_path"]


def lip_sync(client: httpx.Client, video: str, audio: str, start: float = 0.0, end: float = 1.0,
             max_fps: float | None = 10.0, **extra) -> httpx.Response:
    """POST /v1/lip-sync with a short clip range (fast renders on small machines)."""
    body = {"assets": {"video_source": "file", "video_file_path": video, "audio_file_path": audio},
            "start_seconds": start, "end_seconds": end, "max_fps_limit": max_fps, **extra}
    return client.post("/v1/lip-sync", json=body)


def wait_for(client: httpx.Client, project_id: str, timeout_s: float = 120, until=TERMINAL) -> dict:
    """Poll the project until its status is in ``until``; returns the last project object."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = client.get(f"/v1/video-projects/{project_id}")
        assert answer.status_code == 200, answer.text
        project = answer.json()
        if project["status"] in until:
            return project
        assert time.monotonic() < deadline, f"project still {project['status']} after {timeout_s} s"
        time.sleep(0.2)


def balance(client: httpx.Client) -> int:
    answer = client.get("/v1/account")
    assert answer.status_code == 200, answer.text
    return answer.json()["credits"]


# --- The contract's schemas (Magic Hour's OpenAPI documents beside CONTRACT.md) ---------------

API_SPEC = Path(__file__).resolve().parents[2] / "shared" / "api" / "magic-hour-openapi.json"
WEBHOOK_SPEC = API_SPEC.with_name("magic-hour-webhooks-openapi.json")


def _plain(schema):
    """OpenAPI 3.0's ``nullable: true`` spelled as JSON Schema (type or null)."""
    if isinstance(schema, list):
        return [_plain(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _plain(value) for key, value in schema.items() if key not in ("nullable", "example")}
    if schema.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def _spec(path: Path) -> dict:
    if not path.is_file():
        raise AssertionError(f"missing {path}: the tests expect ../shared/api beside the checkout")
    return json.loads(path.read_text())


def response_schema(path: str, method: str = "get", status: str = "200") -> dict:
    """The JSON schema of a response in Magic Hour's API spec."""
    operation = _spec(API_SPEC)["paths"][path][method]
    return _plain(operation["responses"][status]["content"]["application/json"]["schema"])


def webhook_schema(event: str) -> dict:
    """The JSON schema of a webhook body (``video.completed`` ...) in Magic Hour's webhook spec."""
    operation = _spec(WEBHOOK_SPEC)["paths"][f"/{event}"]["post"]
    return _plain(operation["requestBody"]["content"]["application/json"]["schema"])


def validate(instance: dict, schema: dict) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(instance), key=str)
    assert not errors, "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
