"""``openlipsync serve``: migrate, make sure a key exists, then run the app under uvicorn."""

from __future__ import annotations

import socket

import uvicorn

from openlipsync.api.app import create_app
from openlipsync.core.config import Settings
from openlipsync.core.logs import configure
from openlipsync.jobs.accounts.keys import ensure_first_key
from openlipsync.store.db import Database, upgrade


def _listen(host: str, port: int) -> socket.socket:
    """Bind (port 0: any free port) before the app starts, so the real address can be printed."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


def serve(settings: Settings, log_level: str = "info") -> None:
    if settings.broker_url and settings.workers:
        print("Jobs go to the Celery broker; `openlipsync worker` processes render them "
              "(this process serves the API only).", flush=True)
        settings = settings.model_copy(update={"workers": 0})
    upgrade(settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    secret = ensure_first_key(db, settings.first_key_credits)
    db.dispose()
    sock = _listen(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    if secret:
        print(f"Created the first API key (shown only now; keep it): {secret}", flush=True)
    shown = f"[{host}]" if ":" in host else host
    print(f"openlipsync serving on http://{shown}:{port} (data in {settings.data_dir})", flush=True)
    configure(log_level, settings.log_format == "json")
    # Our middleware logs each request (with its id); uvicorn's access log would say it twice.
    config = uvicorn.Config(create_app(settings), log_level=log_level, timeout_graceful_shutdown=20,
                            access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
