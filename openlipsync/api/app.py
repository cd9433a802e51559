"""The FastAPI application: API routes first, then the web page at ``/``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openlipsync import __version__
from openlipsync.api import errors
from openlipsync.api.observe import Observe
from openlipsync.api.routes import account, downloads, files, health, lip_sync, metrics, video_projects
from openlipsync.core.config import Settings, get_settings
from openlipsync.jobs.runtime import Runtime

STATIC = Path(__file__).resolve().parents[1] / "web" / "static"
#: Bodies under these paths are streamed to storage with their own limit.
STREAMED_PREFIXES = ("/uploads/",)


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` with 413 before the app parses them.

    The body (small by definition) is read here in full and replayed to the app, so the
    limit holds for chunked requests too, not only for an honest Content-Length.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"message": f"Request body too large (the limit is {self.max_bytes} bytes)"})
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body.encode()})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(STREAMED_PREFIXES):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._refuse(send)
                return
            more = message.get("more_body", False)
        replay: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replayed() -> Message:
            return replay.pop() if replay else await receive()

        await self.app(scope, replayed, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app; its lifespan starts the runtime (database, worker pool, webhooks)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(settings)
        app.state.runtime = runtime
        runtime.start()
        try:
            yield
        finally:
            runtime.stop()

    app = FastAPI(title="openlipsync", version=__version__, lifespan=lifespan,
                  description="Self-hosted lip-sync speaking Magic Hour's lip-sync API.")
    errors.install(app)
    for module in (files, lip_sync, video_projects, account, downloads, health, metrics):
        app.include_router(module.router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_json_bytes)
    app.add_middleware(Observe)  # outermost: refused bodies are timed and logged too
    if not STATIC.is_dir():
        STATIC.mkdir(parents=True)
        (STATIC / "index.html").write_text("<!doctype html><title>openlipsync</title>"
                                           "<p>openlipsync is running. The API lives under /v1.</p>\n")
    app.mount("/", StaticFiles(directory=STATIC, html=True), name="web")
    return app
