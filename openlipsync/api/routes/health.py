"""``GET /health``: up, and the database answers."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from openlipsync import __version__
from openlipsync.api.deps import RuntimeDep

router = APIRouter()


@router.get("/health", tags=["health"])
def health(runtime: RuntimeDep) -> dict:
    with runtime.db.session() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__, "workers": runtime.settings.workers}
