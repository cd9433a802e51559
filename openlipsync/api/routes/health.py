"""``GET /health``: up, and the database answers."""

from __future__ import annotations

from fastapi import APIRouter

from openlipsync.api.deps import RuntimeDep

router = APIRouter()


@router.get("/health", tags=["health"])
def health(runtime: RuntimeDep) -> dict:
    return runtime.health()
