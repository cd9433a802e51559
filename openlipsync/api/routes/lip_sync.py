"""``POST /v1/lip-sync``: validate, charge the estimate, queue, answer at once."""

from __future__ import annotations

from fastapi import APIRouter

from openlipsync.api.deps import BaseUrlDep, KeyDep, RuntimeDep
from openlipsync.api.schemas import LipSyncRequest, LipSyncResponse
from openlipsync.jobs.accounts.quotas import KeyLimits
from openlipsync.jobs.errors import InvalidRequest
from openlipsync.jobs.inputs import uploads
from openlipsync.jobs.projects.catalog import ProjectSpec, create_project, is_url

router = APIRouter()


def _spec(body: LipSyncRequest) -> ProjectSpec:
    """The cross-field rules pydantic cannot say per field."""
    assets = body.assets
    if assets.video_source == "file" and not assets.video_file_path:
        raise InvalidRequest("Missing required field: assets.video_file_path (required when "
                             "assets.video_source is 'file')")
    if assets.video_source == "youtube":
        if not assets.youtube_url:
            raise InvalidRequest("Missing required field: assets.youtube_url (required when "
                                 "assets.video_source is 'youtube')")
        if not is_url(assets.youtube_url):
            raise InvalidRequest("Invalid value for assets.youtube_url: expected an http(s) URL")
    if body.end_seconds <= body.start_seconds:
        raise InvalidRequest(f"Invalid value for end_seconds: must be greater than start_seconds "
                             f"({body.end_seconds:g} <= {body.start_seconds:g})")
    mode = (body.style.generation_mode if body.style else None) or "lite"
    return ProjectSpec(
        start_seconds=body.start_seconds, end_seconds=body.end_seconds, mode=mode,
        video_source=assets.video_source, audio_input=assets.audio_file_path,
        video_input=assets.video_file_path, youtube_url=assets.youtube_url,
        max_fps_limit=body.max_fps_limit, name=body.name,
    )


@router.post("/v1/lip-sync", response_model=LipSyncResponse, tags=["lip-sync"])
def create_lip_sync(body: LipSyncRequest, key: KeyDep, runtime: RuntimeDep, base: BaseUrlDep) -> dict:
    """Queue a lip-sync job; poll ``GET /v1/video-projects/{id}`` for its state."""
    spec = _spec(body)
    limits = KeyLimits.of(key, runtime.settings)
    uploads.confirm_direct(runtime.db, runtime.blobs, key.id, [spec.audio_input, spec.video_input],
                           runtime.settings.max_upload_bytes, limits)
    project = create_project(runtime.db, runtime.queue, key.id, limits, spec, base,
                             runtime.settings.max_frames)
    return {"id": project.id, "credits_charged": project.credits_charged,
            "estimated_frame_cost": project.credits_charged}
