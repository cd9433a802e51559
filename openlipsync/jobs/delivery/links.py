"""The URLs handed to clients for uploads and downloads.

An object store signs its own download URLs, so clients fetch outputs from it directly and the
API processes never carry them; a local folder has no such URLs, so the API hands out HMAC-signed
links to its own download route instead. Uploads go to the API's own signed PUT route on every
store, which refuses a body over the size cap while it streams; only a store with
``direct_uploads`` (S3 with ``OPENLIPSYNC_STORAGE_DIRECT_UPLOADS``) gives presigned PUTs instead,
whose size is checked after the fact.
"""

from __future__ import annotations

import time

from openlipsync.jobs.delivery.paths import download_path, output_name, upload_path
from openlipsync.jobs.delivery.signing import Signer
from openlipsync.store.blobs import BlobStore


class Links:
    def __init__(self, signer: Signer, blobs: BlobStore) -> None:
        self._signer = signer
        self._blobs = blobs

    def upload(self, file_path: str, base_url: str, ttl_s: int) -> tuple[str, int]:
        """Where to PUT the raw bytes of ``file_path``, and until when (Unix seconds)."""
        expires = int(time.time()) + ttl_s
        direct = self._blobs.upload_url(file_path, ttl_s)
        if direct:
            return direct, expires
        query, expires = self._signer.sign("PUT", upload_path(file_path), ttl_s)
        return f"{base_url}{upload_path(file_path)}?{query}", expires

    def download(self, project_id: str, output_key: str, base_url: str, ttl_s: int) -> tuple[str, int]:
        """Where to GET a project's output, and until when; the last path segment is its file name."""
        expires = int(time.time()) + ttl_s
        direct = self._blobs.download_url(output_key, ttl_s, output_name(project_id))
        if direct:
            return direct, expires
        query, expires = self._signer.sign("GET", download_path(project_id), ttl_s)
        return f"{base_url}{download_path(project_id)}?{query}", expires
