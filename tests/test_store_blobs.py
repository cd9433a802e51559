"""The local blob store: streamed writes published atomically, ranged reads, no way out of the root."""

from __future__ import annotations

import pytest

from openlipsync.store.backends import open_blob_store
from openlipsync.store.blobs import BlobKeyError, LocalBlobStore


def test_write_commit_read_range_delete(tmp_path):
    store = LocalBlobStore(tmp_path / "blobs")
    writer = store.writer("api-assets/abc/video.mp4")
    for part in (b"0123", b"4567", b"89"):
        writer.write(part)
    assert store.size("api-assets/abc/video.mp4") is None, "visible before commit"
    writer.commit()
    assert store.size("api-assets/abc/video.mp4") == 10
    assert b"".join(store.iter_range("api-assets/abc/video.mp4")) == b"0123456789"
    assert b"".join(store.iter_range("api-assets/abc/video.mp4", 3, 6)) == b"3456"
    assert b"".join(store.iter_range("api-assets/abc/video.mp4", 8)) == b"89"
    with store.local_path("api-assets/abc/video.mp4") as path:
        assert path.read_bytes() == b"0123456789"
    store.delete("api-assets/abc/video.mp4")
    assert store.size("api-assets/abc/video.mp4") is None
    assert not (tmp_path / "blobs" / "api-assets" / "abc").exists(), "empty asset folder left behind"
    store.delete("api-assets/abc/video.mp4")  # deleting twice is fine


def test_abort_leaves_nothing(tmp_path):
    store = LocalBlobStore(tmp_path)
    writer = store.writer("outputs/x/out.mp4")
    writer.write(b"partial")
    writer.abort()
    assert store.size("outputs/x/out.mp4") is None
    assert list((tmp_path / "outputs" / "x").iterdir()) == []


def test_put_file_streams_a_copy(tmp_path):
    source = tmp_path / "in.bin"
    source.write_bytes(bytes(range(256)) * 4000)
    store = LocalBlobStore(tmp_path / "blobs")
    store.put_file("outputs/p/lip-sync-p.mp4", source)
    assert source.exists()
    assert b"".join(store.iter_range("outputs/p/lip-sync-p.mp4")) == source.read_bytes()


@pytest.mark.parametrize("key", [
    "../secret.key", "api-assets/../../secret.key", "/etc/passwd", "a//b", ".hidden", "a/./b",
    "a/..", "a\\..\\b", "", "a/b/", "x" * 301, "api-assets/%2e%2e/x",
])
def test_keys_that_could_escape_are_refused(tmp_path, key):
    store = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(BlobKeyError):
        store.writer(key)
    with pytest.raises(BlobKeyError):
        store.size(key)


def test_storage_url(tmp_path):
    store = open_blob_store((tmp_path / "b").as_uri())
    assert isinstance(store, LocalBlobStore) and store.root == (tmp_path / "b").resolve()
    with pytest.raises(ValueError, match="unsupported storage URL"):
        open_blob_store("ftp://example.com/x")
