"""``GET /metrics``: Prometheus' text format, for a scraper holding the metrics token."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from openlipsync.api.deps import RuntimeDep

router = APIRouter()


@router.get("/metrics", tags=["metrics"], include_in_schema=False)
def metrics(request: Request, runtime: RuntimeDep) -> Response:
    token = runtime.settings.metrics_token
    if not token:
        raise HTTPException(404, "Metrics are off: set OPENLIPSYNC_METRICS_TOKEN (and scrape with it as a "
                                 "bearer token), or OPENLIPSYNC_METRICS_PORT for a separate listener")
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise HTTPException(401, "Unauthorized: /metrics needs the header "
                                 "'Authorization: Bearer <OPENLIPSYNC_METRICS_TOKEN>'",
                            headers={"www-authenticate": "Bearer"})
    return Response(runtime.metrics(), media_type=CONTENT_TYPE_LATEST)
