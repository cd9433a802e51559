"""Blob storage (uploads, outputs) behind a small interface: a local folder, or S3 (``store/s3.py``).

The interface is shaped by what an object store can do too (stream in, ranged reads, a local
copy for the renderer); ``store/s3.py`` implements it on S3; ``store/backends.py`` opens the one a URL names.
Keys are validated here, at the bottom, so no caller can reach outside the store by accident.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
CHUNK = 256 * 1024


class BlobKeyError(ValueError):
    """A key with characters or segments that could escape the store."""


def check_key(key: str) -> str:
    if len(key) > 300 or not _KEY.match(key) or ".." in key:
        raise BlobKeyError(f"invalid blob key {key!r}")
    return key


class BlobTooLarge(ValueError):
    """A blob over the size a reader allows (an object store could not refuse it at upload)."""


class BlobWriter(ABC):
    """An upload in progress: nothing is visible under the key until ``commit``."""

    @abstractmethod
    def write(self, data: bytes) -> None: ...

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def abort(self) -> None: ...


class BlobStore(ABC):
    #: Whether clients upload straight into the store (presigned URLs that the API cannot refuse
    #: at upload time, so sizes are checked afterwards: ``jobs/inputs/uploads.confirm_direct``,
    #: ``jobs/projects/retention.check_direct_uploads``); ``upload_url`` gives those URLs.
    direct_uploads = False

    @abstractmethod
    def writer(self, key: str) -> BlobWriter:
        """Start writing ``key``; call ``commit`` to publish it or ``abort`` to drop it."""

    @abstractmethod
    def put_file(self, key: str, path: Path) -> None:
        """Store the file at ``path`` under ``key`` (the file itself is left in place)."""

    @abstractmethod
    def size(self, key: str) -> int | None:
        """Size in bytes, or None when there is no such blob."""

    @abstractmethod
    def iter_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes ``start`` to ``end`` inclusive (to the last byte when ``end`` is None)."""

    @abstractmethod
    @contextmanager
    def local_path(self, key: str, max_bytes: int | None = None) -> Iterator[Path]:
        """A local file holding the blob for the length of the block (for the decoder);
        BlobTooLarge, with nothing copied past the cap, when it holds more than ``max_bytes``."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the blob; a missing blob is not an error."""

    def upload_url(self, key: str, ttl_s: int) -> str | None:
        """A URL clients PUT ``key``'s raw bytes to, straight into the store, when ``direct_uploads``;
        None otherwise (a local folder, an S3 store by default), and the API takes the upload on its
        own signed route, which caps its size."""
        return None

    def download_url(self, key: str, ttl_s: int, filename: str) -> str | None:
        """A URL clients GET ``key`` from (saved as ``filename``); None as for ``upload_url``."""
        return None


class _LocalWriter(BlobWriter):
    def __init__(self, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        self._target = target
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        self._tmp = Path(name)
        self._file: BinaryIO = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def commit(self) -> None:
        self._file.close()
        os.replace(self._tmp, self._target)

    def abort(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)


class LocalBlobStore(BlobStore):
    """Blobs as files under ``root``; writes land in a temp file and are renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise BlobKeyError(f"invalid blob key {key!r}")
        return path

    def writer(self, key: str) -> BlobWriter:
        return _LocalWriter(self._path(key))

    def put_file(self, key: str, path: Path) -> None:
        writer = self.writer(key)
        try:
            with open(path, "rb") as source:
                while chunk := source.read(CHUNK):
                    writer.write(chunk)
        except BaseException:
            writer.abort()
            raise
        writer.commit()

    def size(self, key: str) -> int | None:
        path = self._path(key)
        return path.stat().st_size if path.is_file() else None

    def iter_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        with open(self._path(key), "rb") as source:
            source.seek(start)
            left = None if end is None else end - start + 1
            while left is None or left > 0:
                chunk = source.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    @contextmanager
    def local_path(self, key: str, max_bytes: int | None = None) -> Iterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(f"no blob {key!r}")
        if max_bytes is not None and path.stat().st_size > max_bytes:
            raise BlobTooLarge(f"blob {key!r} is larger than {max_bytes} bytes")
        yield path

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        # Drop the emptied per-asset folder; keep the root. Another process deleting the same
        # blob may have removed the folder meanwhile.
        parent = path.parent
        with contextlib.suppress(FileNotFoundError):
            if parent != self.root and not any(parent.iterdir()):
                shutil.rmtree(parent, ignore_errors=True)
