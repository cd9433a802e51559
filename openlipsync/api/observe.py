"""Per-request observation: a request id, one JSON log line, and the latency histogram.

Pure ASGI rather than ``BaseHTTPMiddleware`` so that streamed downloads and uploads are timed to
their last byte and not buffered. The route label is the route's template
(``/v1/video-projects/{id}``), never the raw path, so metrics stay few however many ids exist.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openlipsync.core.logs import log_context, request_id_from
from openlipsync.core.metrics import HTTP_SECONDS

log = logging.getLogger("openlipsync.http")
#: What requests that match no API route (the web page's files, typos) are counted under.
OTHER = "other"


class Observe:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1"))
        status = [500]

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        began = time.perf_counter()
        with log_context(request_id):
            try:
                await self.app(scope, receive, tagged)
            finally:
                seconds = time.perf_counter() - began
                route = getattr(scope.get("route"), "path", None) or OTHER
                HTTP_SECONDS.labels(route, scope["method"], str(status[0])).observe(seconds)
                log.info("request", extra={"method": scope["method"], "route": route, "path": scope["path"],
                                           "status": status[0], "ms": round(seconds * 1000, 1)})
