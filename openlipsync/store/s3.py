"""Blobs in an S3-compatible object store (AWS S3, MinIO, Ceph, R2 ...), through boto3.

Clients download with the store's own presigned URLs, so outputs never pass through the API
processes. They upload through the API's signed PUT route, which holds the size cap while the
body streams in and hands it to ``writer`` (spooled, then one upload to the bucket); only with
``direct_uploads`` (``OPENLIPSYNC_STORAGE_DIRECT_UPLOADS``) do they get presigned PUTs, which
cannot cap the size, so it is checked afterwards (``jobs/inputs/uploads.confirm_direct``, the
workers' capped download, ``jobs/projects/retention.check_direct_uploads``). Workers copy inputs
to a local temp file for the decoder and upload the output. Keys are checked by ``check_key``
like the local store's, then put under the prefix.
"""

from __future__ import annotations

import mimetypes
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import SpooledTemporaryFile
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from openlipsync.store.blobs import CHUNK, BlobStore, BlobTooLarge, BlobWriter, check_key

if TYPE_CHECKING:
    from openlipsync.core.config import Settings

#: An upload through the API is spooled in memory up to this size, then on disk.
SPOOL_BYTES = 8 * 1024 * 1024
_MISSING = ("404", "NoSuchKey", "NotFound")


def _missing(exc: Exception) -> bool:
    return getattr(exc, "response", {}).get("Error", {}).get("Code") in _MISSING


def _content_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


class _S3Writer(BlobWriter):
    """Spools the body locally (in memory up to ``SPOOL_BYTES``, then in a temporary file) and
    uploads it on ``commit``: nothing appears under the key before, and ``abort`` leaves nothing."""

    def __init__(self, store: S3BlobStore, key: str) -> None:
        self._store, self._key = store, key
        self._spool = SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed by commit/abort)

    def write(self, data: bytes) -> None:
        self._spool.write(data)

    def commit(self) -> None:
        try:
            self._spool.seek(0)
            store = self._store
            store.client.upload_fileobj(self._spool, store.bucket, store.object_key(self._key),
                                        ExtraArgs={"ContentType": _content_type(self._key)})
        finally:
            self._spool.close()

    def abort(self) -> None:
        self._spool.close()


class S3BlobStore(BlobStore):
    """``client`` does the work; ``presigner`` signs the URLs clients use (it may name another host).
    ``direct_uploads``: hand out presigned PUTs (``upload_url``) instead of the API's upload route."""

    def __init__(self, bucket: str, prefix: str, client, presigner=None,
                 direct_uploads: bool = False) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client
        self.presigner = presigner or client
        self.direct_uploads = direct_uploads

    def object_key(self, key: str) -> str:
        key = check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def writer(self, key: str) -> BlobWriter:
        check_key(key)
        return _S3Writer(self, key)

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, self.object_key(key),
                                ExtraArgs={"ContentType": _content_type(key)})

    def size(self, key: str) -> int | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))["ContentLength"]
        except Exception as exc:
            if _missing(exc):
                return None
            raise

    def iter_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        span = f"bytes={start}-{'' if end is None else end}"
        body = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key), Range=span)["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    @contextmanager
    def local_path(self, key: str, max_bytes: int | None = None) -> Iterator[Path]:
        folder = Path(tempfile.mkdtemp(prefix="openlipsync-blob-"))
        try:
            path = folder / Path(key).name
            try:
                self._download(key, path, max_bytes)
            except Exception as exc:
                if _missing(exc):
                    raise FileNotFoundError(f"no blob {key!r}") from exc
                raise
            yield path
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _download(self, key: str, path: Path, max_bytes: int | None) -> None:
        """Copy the object to ``path``, counting bytes as they come: the object may have been
        replaced by a larger one (a presigned PUT cannot be refused) since anyone looked."""
        if max_bytes is None:
            self.client.download_file(self.bucket, self.object_key(key), str(path))
            return
        answer = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        body, size = answer["Body"], 0
        try:
            if answer.get("ContentLength", 0) > max_bytes:
                raise BlobTooLarge(f"blob {key!r} is larger than {max_bytes} bytes")
            with open(path, "wb") as out:
                for chunk in body.iter_chunks(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise BlobTooLarge(f"blob {key!r} is larger than {max_bytes} bytes")
                    out.write(chunk)
        finally:
            body.close()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def upload_url(self, key: str, ttl_s: int) -> str | None:
        if not self.direct_uploads:
            return None  # the API's own route takes the upload and caps its size
        # No ContentType in the signature: the SDK PUTs raw bytes without that header.
        return self.presigner.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": self.object_key(key)}, ExpiresIn=ttl_s)

    def download_url(self, key: str, ttl_s: int, filename: str) -> str:
        params = {"Bucket": self.bucket, "Key": self.object_key(key),
                  "ResponseContentType": _content_type(key),
                  "ResponseContentDisposition": f'attachment; filename="{filename}"'}
        return self.presigner.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl_s)


def _client(settings: Settings, endpoint: str | None):
    import boto3
    from botocore.config import Config

    # SigV4 everywhere (MinIO and newer AWS regions accept nothing else); retries for flaky links.
    config = Config(signature_version="s3v4", retries={"max_attempts": 5, "mode": "standard"},
                    s3={"addressing_style": "path" if endpoint else "auto"})
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name=settings.storage_region or "us-east-1",
        aws_access_key_id=settings.storage_access_key_id,
        aws_secret_access_key=settings.storage_secret_access_key, config=config)


def open_s3_store(url: str, settings: Settings) -> S3BlobStore:
    """The store for ``s3://bucket/prefix`` with the endpoint and credentials of ``settings``."""
    parsed = urlparse(url)
    if not parsed.netloc:
        raise ValueError(f"storage URL {url!r} names no bucket (expected s3://bucket/prefix)")
    client = _client(settings, settings.storage_endpoint_url)
    public = settings.storage_public_endpoint_url
    presigner = _client(settings, public) if public and public != settings.storage_endpoint_url else client
    return S3BlobStore(parsed.netloc, parsed.path, client, presigner,
                       direct_uploads=settings.storage_direct_uploads)
