"""The signed output download: no auth header (the SDK sends none), Range requests honoured."""

from __future__ import annotations

import re

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse

from openlipsync.api.deps import RuntimeDep
from openlipsync.jobs.delivery.paths import download_path, output_name
from openlipsync.jobs.delivery.signing import SignatureError
from openlipsync.jobs.projects.catalog import downloadable_output

router = APIRouter()
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) of a single ``bytes=`` range; None for the whole file; 416 if unsatisfiable."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None  # a range we do not understand: RFC 9110 lets us send the whole file
    first, last = match.groups()
    if first == "":
        start, end = max(size - int(last), 0), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise HTTPException(416, "Range Not Satisfiable", headers={"content-range": f"bytes */{size}"})
    return start, end


@router.get("/downloads/{project_id}/{filename}", tags=["downloads"])
def download(project_id: str, filename: str, request: Request, runtime: RuntimeDep) -> StreamingResponse:
    path = f"/downloads/{project_id}/{filename}"
    if len(project_id) > 64 or path != download_path(project_id):
        raise HTTPException(404, "Not Found")
    try:
        runtime.signer.verify("GET", path, request.query_params.get("expires"),
                              request.query_params.get("signature"))
    except SignatureError as exc:
        raise HTTPException(403, f"Forbidden: {exc}") from exc
    key = downloadable_output(runtime.db, project_id)
    size = runtime.blobs.size(key) if key else None
    if size is None:
        raise HTTPException(404, "Not Found")
    headers = {"accept-ranges": "bytes",
               "content-disposition": f'attachment; filename="{output_name(project_id)}"'}
    span = byte_range(request.headers.get("range"), size)
    if span is None:
        headers["content-length"] = str(size)
        return StreamingResponse(runtime.blobs.iter_range(key), media_type="video/mp4", headers=headers)
    start, end = span
    headers.update({"content-range": f"bytes {start}-{end}/{size}", "content-length": str(end - start + 1)})
    return StreamingResponse(runtime.blobs.iter_range(key, start, end), status_code=206,
                             media_type="video/mp4", headers=headers)
