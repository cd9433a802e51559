"""Opening the blob store a storage URL names; here, not in ``blobs.py``, so that the S3 store can
build on ``blobs.py`` without the two importing each other."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from openlipsync.core.config import Settings, get_settings
from openlipsync.store.blobs import BlobStore, LocalBlobStore


def open_blob_store(url: str, settings: Settings | None = None) -> BlobStore:
    """The store named by a storage URL: ``file:///path``, or ``s3://bucket/prefix`` (whose
    endpoint and credentials come from ``settings``)."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalBlobStore(Path(unquote(parsed.path)))
    if parsed.scheme == "s3":
        from openlipsync.store.s3 import open_s3_store

        return open_s3_store(url, settings or get_settings())
    raise ValueError(f"unsupported storage URL {url!r}: expected file:///path or s3://bucket/prefix")
