"""``POST /v1/lip-sync``: validate, charge the estimate, queue, answer at once."""

from __future__ import annotations

from fastapi import APIRouter

from openlipsync.api.deps import BaseUrlDep, KeyDep, RuntimeDep
from openlipsync.api.schemas import LipSyncFace, LipSyncRequest, LipSyncResponse
from openlipsync.jobs.accounts.quotas import KeyLimits
from openlipsync.jobs.errors import InvalidRequest
from openlipsync.jobs.inputs import uploads
from openlipsync.jobs.projects.catalog import ProjectSpec, create_project, is_url

router = APIRouter()


def _face(face: LipSyncFace | None) -> dict | None:
    """The pick as stored and handed to the render: ``{"x", "y"[, "time"]}`` or ``{"index"}``."""
    if face is None:
        return None
    point = face.x is not None or face.y is not None
    if point and face.index is not None:
        raise InvalidRequest("Invalid value for face: pick a face either by a point (face.x and face.y) "
                             "or by face.index, not both")
    if point:
        if face.x is None or face.y is None:
            missing = "face.y" if face.y is None else "face.x"
            raise InvalidRequest(f"Missing required field: {missing} (a point on the face needs both "
                                 f"face.x and face.y, in the input video's pixels)")
        picked = {"x": face.x, "y": face.y}
        return picked if face.time is None else {**picked, "time": face.time}
    if face.time is not None:
        raise InvalidRequest("Invalid value for face.time: a time goes with a point (face.x and face.y), "
                             "not with face.index")
    if face.index is None:
        raise InvalidRequest("Missing required field: face.x and face.y, or face.index (or leave out "
                             "face, or send null, to let the engine choose)")
    return {"index": face.index}


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
        max_fps_limit=body.max_fps_limit, name=body.name, face=_face(body.face),
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
