"""Cluster mode for tests: PostgreSQL, a Redis broker, S3 (moto) and real API and worker processes.

Every cluster gets its own PostgreSQL database (created here, dropped after), its own
redis-server on a free port (so a test may restart it), and its own moto S3 server on
loopback. ``running_cluster_server`` is the cluster flavour of ``tests.server.running_server``;
``Cluster`` starts any number of ``openlipsync serve --no-worker`` and ``openlipsync worker``.
A missing service fails the test with a message naming it.
"""

from __future__ import annotations

import os
import secrets
import selectors
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.server import Server, start_server

PG_HOST, PG_PORT, PG_USER, PG_ADMIN_DB = "127.0.0.1", 5432, "postgres", "test"
BUCKET = "openlipsync-test"
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"{what} did not start listening on 127.0.0.1:{port} in {timeout_s} s")


# --- PostgreSQL: a fresh database per cluster ----------------------------------------------------

def _pg_admin():
    import psycopg

    try:
        return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_ADMIN_DB, autocommit=True,
                               connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_USER}@{PG_HOST}:{PG_PORT}/{PG_ADMIN_DB} "
                    f"(start it with `{PG_START}`): {exc}")


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty database ``openlipsync_test_<random>``; yields its SQLAlchemy URL."""
    name = f"openlipsync_test_{secrets.token_hex(6)}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}?connect_timeout=3"
    finally:
        with _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class TcpProxy:
    """Forwards a loopback port to PostgreSQL; ``cut`` drops every connection and refuses new ones
    (the database "goes away" for the processes behind it), ``restore`` listens again."""

    def __init__(self, target_port: int = PG_PORT) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
        try:
            while True:
                for key, _ in selector.select():
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            for sock in (a, b):
                sock.close()

    def cut(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        if self._listener is not None:
            conns.append(self._listener)  # shutdown, not just close, wakes the blocked accept()
            self._listener = None
        for sock in conns:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.cut()


# --- Redis: an own redis-server per cluster, so a test may restart it -----------------------------

class RedisServer:
    def __init__(self, folder: Path) -> None:
        self.binary = shutil.which("redis-server")
        if not self.binary:
            pytest.fail("redis-server is not installed (apt-get install -y redis-server): cluster tests "
                        "run their own Redis broker")
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """No persistence: a restart loses every message, the worst case for "no job lost"."""
        log = open(self.folder / "redis.log", "ab")  # noqa: SIM115 (the server process owns it)
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        _wait_for_port(self.port, 10, "redis-server")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def restart(self, down_s: float = 1.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()


# --- S3: moto in server mode on loopback ----------------------------------------------------------

class MotoS3:
    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        _wait_for_port(self.port, 15, "moto S3 server")
        self.client.create_bucket(Bucket=BUCKET)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    def size(self, key: str) -> int | None:
        """Size of object ``key`` as any S3 client sees it (not through our store code)."""
        try:
            return self.client.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
        except Exception as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                return None
            raise

    def stop(self) -> None:
        self._server.stop()


# --- Worker processes -------------------------------------------------------------------------------

@dataclass
class Worker:
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def render_pids(self) -> list[int]:
        """Render processes of this worker right now (the children ProjectRunner spawns)."""
        import psutil

        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        pids = []
        for child in children:
            try:
                if "spawn_main" in " ".join(child.cmdline()):
                    pids.append(child.pid)
            except psutil.NoSuchProcess:
                continue  # it exited between the listing and the look (a render that just ended)
        return pids

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.kill()


def start_worker(folder: Path, env: dict[str, str], timeout_s: float = 60) -> Worker:
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / f"worker-{time.time_ns()}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "openlipsync.cli", "worker", "--log-level", "info"],
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
    worker = Worker(process, log_path)
    deadline = time.monotonic() + timeout_s
    while " ready." not in worker.log():
        if process.poll() is not None:
            pytest.fail(f"openlipsync worker exited with {process.returncode}:\n{worker.log()}")
        if time.monotonic() > deadline:
            worker.kill()
            pytest.fail(f"openlipsync worker was not ready in {timeout_s} s:\n{worker.log()}")
        time.sleep(0.1)
    return worker


# --- A whole cluster ----------------------------------------------------------------------------------

@dataclass
class Cluster:
    folder: Path
    env: dict[str, str]
    redis: RedisServer
    s3: MotoS3
    servers: list[Server] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    #: The first API key, printed by the first API process.
    key: str = ""

    def start_api(self, env: dict[str, str] | None = None) -> Server:
        """``openlipsync serve --no-worker`` on a free port (the first one creates the first key)."""
        data_dir = self.folder / f"api-{len(self.servers)}"
        server = start_server(data_dir, {**self.env, **(env or {})}, key=self.key or None,
                              args=("--no-worker",))
        server.mode, server.extra["s3"] = "cluster", self.s3
        self.key = self.key or server.key
        self.servers.append(server)
        return server

    def start_worker(self, env: dict[str, str] | None = None) -> Worker:
        worker = start_worker(self.folder / "workers", {**os.environ, **self.env, **(env or {})})
        self.workers.append(worker)
        return worker

    def logs(self) -> str:
        parts = [f"--- api {s.url} ---\n{s.log()}" for s in self.servers]
        parts += [f"--- worker {w.process.pid} ---\n{w.log()}" for w in self.workers]
        return "\n".join(parts)

    def stop(self) -> None:
        for process in (*self.servers, *self.workers):
            process.stop()


@contextmanager
def cluster(folder: Path, env: dict[str, str] | None = None) -> Iterator[Cluster]:
    """Services for one cluster; its processes are stopped and its database dropped at the end."""
    folder.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        database = stack.enter_context(postgres_database())
        redis = RedisServer(folder / "redis")
        stack.callback(redis.stop)
        s3 = MotoS3()
        stack.callback(s3.stop)
        cluster_env = {
            "OPENLIPSYNC_DATABASE_URL": database,
            "OPENLIPSYNC_BROKER_URL": redis.url,
            "OPENLIPSYNC_STORAGE_URL": f"s3://{BUCKET}",
            "OPENLIPSYNC_STORAGE_ENDPOINT_URL": s3.endpoint,
            "OPENLIPSYNC_STORAGE_ACCESS_KEY_ID": "test",
            "OPENLIPSYNC_STORAGE_SECRET_ACCESS_KEY": "test",
            "OPENLIPSYNC_SECRET_KEY": secrets.token_hex(16),
            **(env or {}),
        }
        running = Cluster(folder, cluster_env, redis, s3)
        command = [sys.executable, "-m", "openlipsync.cli", "db", "upgrade"]
        migrate = subprocess.run(command, env={**os.environ, **cluster_env}, capture_output=True, text=True,
                                 timeout=120)
        assert migrate.returncode == 0, f"openlipsync db upgrade failed:\n{migrate.stderr}"
        try:
            yield running
        except BaseException:
            print(running.logs())
            raise
        finally:
            running.stop()


@contextmanager
def running_cluster_server(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    """One API process and, unless ``OPENLIPSYNC_WORKERS`` is 0, one worker: the cluster shape of
    ``running_server`` for the API contract suite."""
    with cluster(data_dir, env) as running:
        server = running.start_api()
        if running.env.get("OPENLIPSYNC_WORKERS", "1") != "0":
            running.start_worker()
        yield server
