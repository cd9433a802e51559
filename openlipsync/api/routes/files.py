"""Upload targets (``POST /v1/files/upload-urls``) and the signed PUT that fills them."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from openlipsync.api.deps import BaseUrlDep, KeyDep, RuntimeDep
from openlipsync.api.schemas import UploadUrlsRequest, UploadUrlsResponse
from openlipsync.jobs.accounts.quotas import KeyLimits
from openlipsync.jobs.delivery.paths import upload_path
from openlipsync.jobs.delivery.signing import SignatureError
from openlipsync.jobs.inputs import uploads

router = APIRouter()


@router.post("/v1/files/upload-urls", response_model=UploadUrlsResponse, tags=["files"])
def create_upload_urls(body: UploadUrlsRequest, key: KeyDep, runtime: RuntimeDep, base: BaseUrlDep) -> dict:
    """Signed, expiring PUT targets, one per item, in the order asked."""
    items = [(item.type, item.extension) for item in body.items]
    slots = uploads.create_slots(runtime.db, runtime.links, key.id, KeyLimits.of(key, runtime.settings),
                                 items, base, runtime.settings.upload_url_ttl_s)
    return {"items": slots}


@router.put("/uploads/api-assets/{asset_id}/{filename}", tags=["files"])
async def upload(asset_id: str, filename: str, request: Request, runtime: RuntimeDep) -> dict:
    """Stream the raw body into blob storage; the signature in the URL is the only credential,
    and it works once: a filled slot refuses a second PUT."""
    file_path = f"api-assets/{asset_id}/{filename}"
    if not uploads.FILE_PATH.match(file_path):
        raise HTTPException(404, "Not Found")
    try:
        runtime.signer.verify("PUT", upload_path(file_path), request.query_params.get("expires"),
                              request.query_params.get("signature"))
    except SignatureError as exc:
        raise HTTPException(403, f"Forbidden: {exc}") from exc
    try:
        allowance = await run_in_threadpool(uploads.put_allowance, runtime.db, file_path, runtime.settings)
    except uploads.SlotUsed as exc:
        raise HTTPException(409, "Conflict: this upload URL was used already; ask for a new one") from exc
    if allowance is None:
        raise HTTPException(404, "Not Found")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > allowance.max_bytes:
        raise HTTPException(413, f"The upload is {declared} bytes; {allowance.reason}")
    try:
        size = await uploads.receive(runtime.db, runtime.blobs, file_path, request.stream(), allowance)
    except uploads.UploadTooLarge as exc:
        raise HTTPException(413, str(exc)) from exc
    return {"file_path": file_path, "size": size}
