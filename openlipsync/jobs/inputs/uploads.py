"""Upload slots: ``POST /v1/files/upload-urls`` hands out signed PUT targets, the PUT fills them."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

from openlipsync.core.config import Settings
from openlipsync.jobs.accounts import quotas
from openlipsync.jobs.accounts.quotas import KeyLimits
from openlipsync.jobs.delivery.links import Links
from openlipsync.jobs.delivery.views import iso
from openlipsync.jobs.errors import InvalidRequest, LimitReached, Unprocessable
from openlipsync.store.blobs import BlobStore
from openlipsync.store.db import Database
from openlipsync.store.models import ApiKey, Upload, now

#: Accepted extensions per asset type (Magic Hour's lists, CONTRACT.md section 3.1).
EXTENSIONS = {
    "video": ("mp4", "m4v", "mov", "webm"),
    "audio": ("mp3", "wav", "aac", "flac", "webm", "weba", "m4a", "opus", "ogg", "oga", "aiff", "amr"),
    "image": ("png", "jpg", "jpeg", "jfif", "heic", "heif", "webp", "avif", "jp2", "tiff", "tif", "bmp"),
}
#: ``api-assets/<asset id>/<type>.<extension>``: the only shape of file path we hand out.
FILE_PATH = re.compile(r"^api-assets/[a-f0-9]{24}/(video|audio|image)\.[a-z0-9]{1,8}$")


def create_slots(db: Database, links: Links, key_id: str, limits: KeyLimits, items: list[tuple[str, str]],
                 base_url: str, ttl_s: int) -> list[dict]:
    """One signed upload target per (type, extension), in the order asked, within the key's limits."""
    for kind, extension in items:
        if extension not in EXTENSIONS[kind]:
            raise Unprocessable(f"'{extension}' is an invalid {kind} extension. "
                                f"Possible extensions are '{', '.join(EXTENSIONS[kind])}'")
    slots, answer = [], []
    for kind, extension in items:
        file_path = f"api-assets/{secrets.token_hex(12)}/{kind}.{extension}"
        url, expires = links.upload(file_path, base_url, ttl_s)
        slots.append(Upload(file_path=file_path, key_id=key_id, type=kind, extension=extension,
                            expires_at=expires))
        answer.append({"upload_url": url, "expires_at": iso(expires), "file_path": file_path})
    with db.session() as session:
        quotas.lock_key(db, session, key_id)
        quotas.check_new_uploads(session, key_id, limits, len(slots))
        session.add_all(slots)
    return answer


class SlotUsed(Exception):
    """A PUT to a slot that was filled already: upload URLs are single-use."""


@dataclass(frozen=True)
class Allowance:
    """How many bytes a PUT may carry, and the sentence that explains the cap when it is hit."""

    max_bytes: int
    reason: str


def put_allowance(db: Database, file_path: str, settings: Settings) -> Allowance | None:
    """The cap on a PUT to ``file_path``: the upload limit, or less when the key's storage is nearly
    full; None when no such slot was handed out; SlotUsed when it was filled before."""
    with db.session() as session:
        upload = session.get(Upload, file_path)
        if upload is None:
            return None
        if upload.uploaded_at is not None:
            raise SlotUsed(file_path)
        room = quotas.upload_room(session, upload.key_id,
                                  KeyLimits.of(session.get(ApiKey, upload.key_id), settings))
    limit = settings.max_upload_bytes
    if room is not None and room < limit:
        return Allowance(room, f"this key's upload storage has {room} bytes left")
    return Allowance(limit, f"the limit is {limit} bytes")


class UploadTooLarge(Exception):
    """A PUT body over its ``Allowance``; the message says which cap."""


async def receive(db: Database, blobs: BlobStore, file_path: str, chunks: AsyncIterator[bytes],
                  allowance: Allowance) -> int:
    """Store a PUT body as it arrives and mark the slot filled; returns its size.

    Called on the event loop, so every blocking step (a disk write, the commit that may be an S3
    upload of gigabytes, the database) runs in a thread: one upload never stalls other requests.
    Nothing is stored when the body runs over the allowance or the client goes away.
    """
    writer = await asyncio.to_thread(blobs.writer, file_path)
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > allowance.max_bytes:
                raise UploadTooLarge(f"The upload is larger than allowed: {allowance.reason}")
            if chunk:
                await asyncio.to_thread(writer.write, chunk)
    except BaseException:
        await asyncio.to_thread(writer.abort)
        raise
    await asyncio.to_thread(writer.commit)
    await asyncio.to_thread(mark_uploaded, db, file_path, size)
    return size


def mark_uploaded(db: Database, file_path: str, size: int) -> None:
    with db.session() as session:
        upload = session.get(Upload, file_path)
        upload.uploaded_at, upload.size = now(), size


def confirm_direct(db: Database, blobs: BlobStore, key_id: str, file_paths: list[str | None],
                   max_bytes: int, limits: KeyLimits) -> None:
    """Record uploads that went straight into an object store (its presigned PUT never passes
    through the API, so no one marked them yet): the store says whether the file is there, and
    how big. A file over the upload limit or the key's storage, which the store could not
    refuse, is deleted here. Nothing to do when the store takes no direct uploads: the API's PUT
    marked every upload it took, and a slot it did not mark was never filled."""
    if not blobs.direct_uploads:
        return
    with db.session() as session:
        waiting = [upload for path in file_paths if path and FILE_PATH.match(path)
                   if (upload := session.get(Upload, path)) is not None
                   and upload.key_id == key_id and upload.uploaded_at is None]
    for upload in waiting:
        size = blobs.size(upload.file_path)
        if size is None:
            continue  # never uploaded: creating the project says so
        with db.session() as session:
            room = quotas.upload_room(session, key_id, limits)
        if size > max_bytes:
            blobs.delete(upload.file_path)
            raise InvalidRequest(f"file path '{upload.file_path}' is too large: {size} bytes, the upload "
                                 f"limit is {max_bytes} bytes")
        if room is not None and size > room:
            blobs.delete(upload.file_path)
            raise LimitReached(f"Upload storage full: file path '{upload.file_path}' is {size} bytes and "
                               f"this key's upload storage has {room} bytes left", retry_after_s=3600)
        mark_uploaded(db, upload.file_path, size)
