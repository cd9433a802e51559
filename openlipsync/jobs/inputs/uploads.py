"""Upload slots: ``POST /v1/files/upload-urls`` hands out signed PUT targets, the PUT fills them."""

from __future__ import annotations

import re
import secrets

from openlipsync.jobs.delivery.links import Links
from openlipsync.jobs.delivery.views import iso
from openlipsync.jobs.errors import InvalidRequest, Unprocessable
from openlipsync.store.blobs import BlobStore
from openlipsync.store.db import Database
from openlipsync.store.models import Upload, now

#: Accepted extensions per asset type (Magic Hour's lists, CONTRACT.md section 3.1).
EXTENSIONS = {
    "video": ("mp4", "m4v", "mov", "webm"),
    "audio": ("mp3", "wav", "aac", "flac", "webm", "weba", "m4a", "opus", "ogg", "oga", "aiff", "amr"),
    "image": ("png", "jpg", "jpeg", "jfif", "heic", "heif", "webp", "avif", "jp2", "tiff", "tif", "bmp"),
}
#: ``api-assets/<asset id>/<type>.<extension>``: the only shape of file path we hand out.
FILE_PATH = re.compile(r"^api-assets/[a-f0-9]{24}/(video|audio|image)\.[a-z0-9]{1,8}$")


def create_slots(db: Database, links: Links, key_id: str, items: list[tuple[str, str]], base_url: str,
                 ttl_s: int) -> list[dict]:
    """One signed upload target per (type, extension), in the order asked."""
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
        session.add_all(slots)
    return answer


def slot_exists(db: Database, file_path: str) -> bool:
    with db.session() as session:
        return session.get(Upload, file_path) is not None


def mark_uploaded(db: Database, file_path: str, size: int) -> None:
    with db.session() as session:
        upload = session.get(Upload, file_path)
        upload.uploaded_at, upload.size = now(), size


def confirm_direct(db: Database, blobs: BlobStore, key_id: str, file_paths: list[str | None],
                   max_bytes: int) -> None:
    """Record uploads that went straight into an object store (its presigned PUT never passes
    through the API, so no one marked them yet): the store says whether the file is there, and
    how big. A file over the upload limit, which the store could not refuse, is deleted here."""
    with db.session() as session:
        waiting = [upload for path in file_paths if path and FILE_PATH.match(path)
                   if (upload := session.get(Upload, path)) is not None
                   and upload.key_id == key_id and upload.uploaded_at is None]
    for upload in waiting:
        size = blobs.size(upload.file_path)
        if size is None:
            continue  # never uploaded: creating the project says so
        if size > max_bytes:
            blobs.delete(upload.file_path)
            raise InvalidRequest(f"file path '{upload.file_path}' is too large: {size} bytes, the upload "
                                 f"limit is {max_bytes} bytes")
        mark_uploaded(db, upload.file_path, size)
