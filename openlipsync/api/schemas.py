"""Request and response bodies of the Magic Hour-compatible API (CONTRACT.md section 3).

Requests are strict about types (``"5"`` is not a number, as in Magic Hour's validator) and
treat ``null`` as absent for every optional field, because the SDK sends ``null`` for
arguments passed as ``None``. Unknown keys are ignored. Responses carry every key the SDK
requires, deprecated ones included.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictInt, StrictStr

Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Path = Annotated[StrictStr, Field(min_length=1, max_length=2048)]


class UploadItem(BaseModel):
    type: Literal["video", "audio", "image"]
    extension: Annotated[StrictStr, Field(pattern=r"^[a-z0-9]+$", max_length=16)]


class UploadUrlsRequest(BaseModel):
    items: list[UploadItem] = Field(min_length=1, max_length=20)


class UploadUrl(BaseModel):
    upload_url: str
    expires_at: str
    file_path: str


class UploadUrlsResponse(BaseModel):
    items: list[UploadUrl]


class LipSyncAssets(BaseModel):
    audio_file_path: Path
    video_source: Literal["file", "youtube"]
    video_file_path: Path | None = None
    youtube_url: Path | None = None


class LipSyncStyle(BaseModel):
    generation_mode: Literal["lite", "standard", "pro"] | None = None


#: Bounds of a face pick: no video is wider than this many pixels, nor has this many people.
FACE_MAX_PIXELS = 65536
FACE_MAX_INDEX = 999


class LipSyncFace(BaseModel):
    """Ours: whose mouth to re-animate when the clip shows several people (the SDK never sends it).

    Either a point on that person's face, ``x``/``y`` in the input video's own pixels (0, 0 is
    the top left corner) at ``time`` seconds into the input (absent: the first frame where that
    person appears), or ``index``, the person's number in order of first appearance (0 is the
    first). Which combinations are allowed is checked in the route, so the message can say.
    """

    x: Number | None = Field(default=None, ge=0, le=FACE_MAX_PIXELS)
    y: Number | None = Field(default=None, ge=0, le=FACE_MAX_PIXELS)
    time: Number | None = Field(default=None, ge=0, le=1e6)
    index: StrictInt | None = Field(default=None, ge=0, le=FACE_MAX_INDEX)


class LipSyncRequest(BaseModel):
    assets: LipSyncAssets
    start_seconds: Number = Field(ge=0)
    end_seconds: Number = Field(ge=0.1)
    max_fps_limit: Number | None = Field(default=None, ge=1)
    name: Annotated[StrictStr, Field(max_length=500)] | None = None
    style: LipSyncStyle | None = None
    #: Deprecated and ignored (kept so old clients still validate).
    height: StrictInt | None = None
    width: StrictInt | None = None
    #: Ours: whose mouth to re-animate; absent or null lets the engine choose.
    face: LipSyncFace | None = None


class LipSyncResponse(BaseModel):
    id: str
    credits_charged: int
    #: Deprecated name of ``credits_charged``; SDK 0.90.0 still requires it.
    estimated_frame_cost: int


class Download(BaseModel):
    url: str
    expires_at: str


class ProjectError(BaseModel):
    code: str
    message: str


class VideoProject(BaseModel):
    id: str
    name: str | None
    status: Literal["draft", "queued", "rendering", "complete", "error", "canceled"]
    type: str
    created_at: str
    width: int
    height: int
    enabled: bool
    start_seconds: float
    end_seconds: float
    fps: float
    credits_charged: int
    total_frame_cost: int
    error: ProjectError | None
    downloads: list[Download]
    download: Download | None
    #: Ours: how far the render is, 0..1.
    progress: float
    #: Ours: the mode asked for (``style.generation_mode``, default lite).
    generation_mode: str
    #: Ours: the engine's remarks on the render (faceless frames kept, a fallback to lite).
    notes: list[str]
    #: Ours: the face picked in the request (``{"x","y","time"}`` or ``{"index"}``); null: automatic.
    face: dict[str, int | float] | None


class VideoProjectList(BaseModel):
    """Ours (for the web page's history): the key's projects, newest first."""

    items: list[VideoProject]


class Account(BaseModel):
    id: str
    email: str | None
    credits: int
    tier: Literal["free", "creator", "pro", "business"]
    subscription: None


class Message(BaseModel):
    message: str
