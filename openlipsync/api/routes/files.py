"""Upload targets (``POST /v1/files/upload-urls``) and the signed PUT that fills them."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from openlipsync.api.deps import BaseUrlDep, KeyDep, RuntimeDep
from openlipsync.api.schemas import UploadUrlsRequest, UploadUrlsResponse
from openlipsync.jobs.delivery.paths import upload_path
from openlipsync.jobs.delivery.signing import SignatureError
from openlipsync.jobs.inputs import uploads

router = APIRouter()


@router.post("/v1/files/upload-urls", response_model=UploadUrlsResponse, tags=["files"])
def create_upload_urls(body: UploadUrlsRequest, key: KeyDep, runtime: RuntimeDep, base: BaseUrlDep) -> dict:
    """Signed, expiring PUT targets, one per item, in the order asked."""
    items = [(item.type, item.extension) for item in body.items]
    slots = uploads.create_slots(runtime.db, runtime.links, key.id, items, base,
                                 runtime.settings.upload_url_ttl_s)
    return {"items": slots}


@router.put("/uploads/api-assets/{asset_id}/{filename}", tags=["files"])
async def upload(asset_id: str, filename: str, request: Request, runtime: RuntimeDep) -> dict:
    """Stream the raw body into blob storage; the signature in the URL is the only credential."""
    file_path = f"api-assets/{asset_id}/{filename}"
    if not uploads.FILE_PATH.match(file_path):
        raise HTTPException(404, "Not Found")
    try:
        runtime.signer.verify("PUT", upload_path(file_path), request.query_params.get("expires"),
                              request.query_params.get("signature"))
    except SignatureError as exc:
        raise HTTPException(403, f"Forbidden: {exc}") from exc
    if not await run_in_threadpool(uploads.slot_exists, runtime.db, file_path):
        raise HTTPException(404, "Not Found")
    limit = runtime.settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"The upload is {declared} bytes; the limit is {limit} bytes")
    writer = runtime.blobs.writer(file_path)
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"The upload is larger than the limit of {limit} bytes")
            writer.write(chunk)
    except BaseException:
        writer.abort()
        raise
    writer.commit()
    await run_in_threadpool(uploads.mark_uploaded, runtime.db, file_path, size)
    return {"file_path": file_path, "size": size}
