"""``GET`` and ``DELETE /v1/video-projects/{id}``, and the key's project list (ours)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Response

from openlipsync.api.deps import KeyDep, RuntimeDep
from openlipsync.api.schemas import VideoProject, VideoProjectList
from openlipsync.jobs.delivery.views import project_payload
from openlipsync.jobs.errors import NotFound
from openlipsync.jobs.projects.catalog import delete_project, get_project, list_projects

router = APIRouter()
PROJECT_ID = re.compile(r"^[a-f0-9]{24}$")


def _checked(project_id: str) -> str:
    if not PROJECT_ID.match(project_id):
        raise NotFound()
    return project_id


@router.get("/v1/video-projects", response_model=VideoProjectList, tags=["video projects"])
def read_projects(key: KeyDep, runtime: RuntimeDep, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict:
    """The key's projects, newest first: the web page's history (not part of Magic Hour's API)."""
    ttl = runtime.settings.download_url_ttl_s
    projects = list_projects(runtime.db, key.id, limit)
    return {"items": [project_payload(project, runtime.links, ttl) for project in projects]}


@router.get("/v1/video-projects/{project_id}", response_model=VideoProject, tags=["video projects"])
def read_project(project_id: str, key: KeyDep, runtime: RuntimeDep) -> dict:
    """The project, with fresh signed download links once it is complete."""
    project = get_project(runtime.db, key.id, _checked(project_id))
    return project_payload(project, runtime.links, runtime.settings.download_url_ttl_s)


@router.delete("/v1/video-projects/{project_id}", status_code=204, tags=["video projects"])
def remove_project(project_id: str, key: KeyDep, runtime: RuntimeDep) -> Response:
    """Delete the project, its output and its inputs; a running job is canceled and refunded."""
    delete_project(runtime.db, runtime.blobs, key.id, _checked(project_id))
    return Response(status_code=204)
