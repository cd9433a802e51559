"""Hostile input: forged and expired links, oversized bodies, path traversal, broken JSON, SSRF."""

from __future__ import annotations

import json

import httpx
import pytest

from openlipsync.jobs.delivery.signing import Signer
from tests.server import MODES, balance, lip_sync, running_server, wait_for

SECRET = "test-signing-secret-of-32-characters"
MAX_UPLOAD = 200_000
MAX_JSON = 64 * 1024


@pytest.fixture(scope="module", params=MODES)
def server(request, tmp_path_factory):
    env = {"OPENLIPSYNC_SECRET_KEY": SECRET, "OPENLIPSYNC_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
           "OPENLIPSYNC_MAX_JSON_BYTES": str(MAX_JSON)}
    with running_server(tmp_path_factory.mktemp("hostile"), env=env, mode=request.param) as server:
        yield server


def _slot(http: httpx.Client, kind: str = "video", ext: str = "mp4") -> dict:
    answer = http.post("/v1/files/upload-urls", json={"items": [{"type": kind, "extension": ext}]})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"][0]


def _is_stored(server, file_path: str) -> bool:
    return server.stored_size(file_path) is not None


def _api_upload_url(server, slot: dict) -> httpx.URL:
    """The slot's upload URL, which is the API's own signed PUT on every store: with S3 behind it
    (the cluster) too, so the API caps the size while the body streams in."""
    url = httpx.URL(slot["upload_url"])
    assert url.netloc == httpx.URL(server.url).netloc and url.path == f"/uploads/{slot['file_path']}", url
    assert "signature" in url.params and "X-Amz-Signature" not in url.params, url
    return url


def test_forged_and_expired_upload_signatures_are_403(server):
    with server.client() as http:
        slot = _slot(http)
    url = _api_upload_url(server, slot)
    signature = url.params["signature"]
    forged = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    path = url.path
    expired_query, _ = Signer(SECRET.encode()).sign("PUT", path, -5)
    other_path = path.replace("/video.mp4", "/audio.mp4")
    cases = {
        "forged": url.copy_set_param("signature", forged),
        "no signature": url.copy_with(query=None),
        "longer expiry": url.copy_set_param("expires", str(int(url.params["expires"]) + 3600)),
        "expired": url.copy_with(query=expired_query.encode()),
        "other file": url.copy_with(path=other_path),
        "signed for GET": url.copy_with(query=Signer(SECRET.encode()).sign("GET", path, 60)[0].encode()),
    }
    for case, target in cases.items():
        answer = httpx.put(target, content=b"x" * 100)
        assert answer.status_code in (403, 404), case
        assert answer.json()["message"], case
        if case != "other file":
            assert answer.status_code == 403 and "Forbidden" in answer.json()["message"], case
    assert not _is_stored(server, slot["file_path"])
    assert httpx.put(url, content=b"genuine").status_code == 200
    assert _is_stored(server, slot["file_path"])


def test_well_signed_link_to_a_slot_never_handed_out_is_404(server):
    path = "/uploads/api-assets/0123456789abcdef01234567/video.mp4"
    query, _ = Signer(SECRET.encode()).sign("PUT", path, 60)
    assert httpx.put(f"{server.url}{path}?{query}", content=b"x").status_code == 404


def test_oversized_upload_is_refused_and_not_stored(server):
    with server.client() as http:
        declared, streamed = _slot(http), _slot(http)
    answer = httpx.put(_api_upload_url(server, declared), content=b"\0" * (MAX_UPLOAD + 1))
    assert answer.status_code == 413 and "limit" in answer.json()["message"]

    def chunks():  # no Content-Length: the limit must hold while streaming too
        for _ in range(40):
            yield b"\0" * 10_000

    try:
        status = httpx.put(_api_upload_url(server, streamed), content=chunks()).status_code
    except httpx.HTTPError:  # the server may close the connection before reading it all
        status = 413
    assert status == 413
    assert not _is_stored(server, declared["file_path"]) and not _is_stored(server, streamed["file_path"])
    assert not list((server.data_dir / "blobs").rglob(".part-*")), "partial upload left on disk"
    for slot in (declared, streamed):  # nothing at all under the slots' folders (in S3: no object)
        assert server.stored_under(slot["file_path"].rsplit("/", 1)[0] + "/") == []


@pytest.mark.parametrize("path", [
    "/v1/video-projects/..%2F..%2Fsecret.key",
    "/v1/video-projects/%2e%2e",
    "/v1/video-projects/0123456789abcdef01234567%2F..",
    "/downloads/..%2Fsecret.key/x.mp4",
    "/downloads/%2e%2e/secret.key",
    "/uploads/api-assets/..%2F..%2F/secret.key",
    "/uploads/api-assets/%2e%2e/secret.key",
    "/..%2F..%2Fetc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
])
def test_path_traversal_reaches_nothing(server, path):
    with server.client() as http:
        for method in ("GET", "PUT", "DELETE"):
            answer = http.request(method, path, content=b"x")
            assert answer.status_code in (403, 404, 405), (method, path, answer.status_code)
            assert "secret" not in answer.text and "root:" not in answer.text


def test_traversal_in_file_paths_is_a_missing_file(server):
    with server.client() as http:
        for path in ("api-assets/../../secret.key", "api-assets/%2e%2e/openlipsync.db", "/etc/passwd",
                     "file:///etc/passwd", "../openlipsync.db"):
            answer = lip_sync(http, path, path)
            assert answer.status_code == 400 and "does not exist" in answer.json()["message"], path


def test_malformed_and_huge_json(server):
    with server.client() as http:
        headers = {"content-type": "application/json"}
        for body in (b"{bad", b'{"assets": ', b"\xff\xfe", b"[" * 50_000, b""):
            answer = http.post("/v1/lip-sync", content=body, headers=headers)
            assert answer.status_code == 400 and answer.json()["message"], body[:20]
        huge = json.dumps({"name": "x" * (MAX_JSON * 2), "start_seconds": 0, "end_seconds": 1}).encode()
        answer = http.post("/v1/lip-sync", content=huge, headers=headers)
        assert answer.status_code == 413 and "too large" in answer.json()["message"]

        def chunks():
            for _ in range(20):
                yield b" " * 10_000

        try:
            status = http.post("/v1/files/upload-urls", content=chunks(), headers=headers).status_code
        except httpx.HTTPError:
            status = 413
        assert status == 413
        assert http.get("/health").status_code == 200


@pytest.mark.parametrize("field, url, code", [
    ("video", "http://127.0.0.1:{port}/v.mp4", "invalid_video_file"),
    ("audio", "http://169.254.169.254/latest/meta-data/a.wav", "invalid_audio_file"),
    ("video", "http://10.0.0.7/v.mp4", "invalid_video_file"),
    ("audio", "http://[::1]:{port}/a.wav", "invalid_audio_file"),
    ("video", "http://localhost:{port}/v.mp4", "invalid_video_file"),
])
def test_ssrf_targets_fail_the_job_and_refund(server, field, url, code):
    target = url.format(port=httpx.URL(server.url).port)
    with server.client() as http:
        other = "audio" if field == "video" else "video"
        slot = _slot(http, other, "wav" if other == "audio" else "mp4")
        assert httpx.put(slot["upload_url"], content=b"never decoded").status_code == 200
        before = balance(http)
        video, audio = (target, slot["file_path"]) if field == "video" else (slot["file_path"], target)
        created = lip_sync(http, video, audio)
        assert created.status_code == 200, created.text
        project = wait_for(http, created.json()["id"], timeout_s=60)
        assert project["status"] == "error"
        assert project["error"]["code"] == code and "refusing to fetch" in project["error"]["message"]
        assert project["credits_charged"] == 0 and balance(http) == before


def test_youtube_to_a_private_address_is_refused(server):
    with server.client() as http:
        audio = _slot(http, "audio", "wav")
        assert httpx.put(audio["upload_url"], content=b"never decoded").status_code == 200
        body = {"assets": {"video_source": "youtube", "youtube_url": "http://169.254.169.254/watch?v=x",
                           "audio_file_path": audio["file_path"]},
                "start_seconds": 0, "end_seconds": 1}
        created = http.post("/v1/lip-sync", json=body)
        assert created.status_code == 200, created.text
        project = wait_for(http, created.json()["id"], timeout_s=60)
        assert project["status"] == "error" and project["error"]["code"] == "invalid_youtube_url"
        assert "refusing to fetch" in project["error"]["message"]
