"""The video project object exactly as Magic Hour's SDK expects it (CONTRACT.md section 3.4).

Built here rather than in the API layer because webhooks send the same object as ``payload``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from openlipsync.jobs.delivery.links import Links
from openlipsync.store.models import COMPLETE, Project


def iso(timestamp: float) -> str:
    """``2024-07-25T16:56:21.932Z``, the form Magic Hour uses."""
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def project_payload(project: Project, links: Links, ttl_s: int) -> dict:
    """All 16 keys the SDK requires, plus ``progress`` (0..1), ``generation_mode``, ``notes`` and
    ``face`` (the face picked to speak, as the request gave it; null when the engine chooses).

    ``notes`` are the engine's remarks on a finished render in plain words (frames without a
    face left as they were, standard/pro falling back to lite for shapes the clip never shows):
    the SDK ignores keys it does not know, so they cost its users nothing.
    """
    downloads = []
    if project.status == COMPLETE and project.output_key:
        url, expires = links.download(project.id, project.output_key, project.public_base_url, ttl_s)
        downloads.append({"url": url, "expires_at": iso(expires)})
    error = None
    if project.error_code:
        error = {"code": project.error_code, "message": project.error_message or project.error_code}
    return {
        "id": project.id,
        "name": project.name,
        "status": project.status,
        "type": "LIP_SYNC",
        "created_at": iso(project.created_at),
        "width": project.width,
        "height": project.height,
        "enabled": project.enabled,
        "start_seconds": project.start_seconds,
        "end_seconds": project.end_seconds,
        "fps": project.fps,
        "credits_charged": project.credits_charged,
        "total_frame_cost": project.credits_charged,
        "error": error,
        "downloads": downloads,
        "download": downloads[0] if downloads else None,
        "progress": round(project.progress, 4),
        "generation_mode": project.mode,
        "notes": json.loads(project.notes) if project.notes else [],
        "face": json.loads(project.face) if project.face else None,
    }
