"""Every class of bad input at once, against the embedded and the cluster setup: corrupt,
truncated, empty, enormous and audio-only media, wrong extensions, traversal, forged and expired
links, SSRF forms, huge numbers, unicode names. Each gets a clear 4xx or a render error code, no
answer leaks a server path or address, and the credits balance to the last one afterwards."""

from __future__ import annotations

import json
import os

import av
import httpx
import numpy as np
import pytest

from openlipsync.jobs.delivery.signing import Signer
from tests.conftest import shared_media
from tests.server import MODES, balance, lip_sync, running_server, wait_for

SECRET = "hostile-inputs-signing-secret-32+"
#: What no answer may contain: server paths, the signing secret, resolved loopback addresses.
LEAKS = ("/tmp", "/work", "openlipsync-data", "secret.key", SECRET, "127.0.0.1", "Errno", "Traceback")


@pytest.fixture(scope="module", params=MODES)
def server(request, tmp_path_factory):
    env = {"OPENLIPSYNC_SECRET_KEY": SECRET, "OPENLIPSYNC_MAX_UPLOAD_BYTES": str(20_000_000)}
    with running_server(tmp_path_factory.mktemp("hostile-inputs"), env=env, mode=request.param) as server:
        yield server


def _no_leak(text: str, server, sent: str = "") -> None:
    """``text`` carries none of LEAKS, except where it echoes what the client ``sent``."""
    for leak in (*LEAKS, str(server.data_dir)):
        assert leak in sent or leak not in text, (leak, text)


def _upload(http: httpx.Client, content: bytes, kind: str, extension: str) -> str:
    answer = http.post("/v1/files/upload-urls", json={"items": [{"type": kind, "extension": extension}]})
    assert answer.status_code == 200, answer.text
    item = answer.json()["items"][0]
    assert httpx.put(item["upload_url"], content=content, timeout=60).is_success
    return item["file_path"]


def _enormous_video(path) -> bytes:
    """One frame 8400 pixels wide: over the 8192-pixel side limit, yet tiny to store."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=1)
        stream.width, stream.height, stream.pix_fmt = 8400, 16, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((16, 8400, 3), np.uint8), format="rgb24")
        for packet in (*stream.encode(frame), *stream.encode()):
            container.mux(packet)
    return path.read_bytes()


def test_bad_media_fails_the_job_with_its_code_and_refunds(server, tmp_path):
    good_video = shared_media("woman_flags.mp4").read_bytes()
    good_audio = shared_media("speech_en_a.wav").read_bytes()
    with server.client() as http:
        before = balance(http)
        audio = _upload(http, good_audio, "audio", "wav")
        video = _upload(http, good_video, "video", "mp4")
        bad_video, bad_audio = "invalid_video_file", "invalid_audio_file"
        cases = {  # name: (video file path, audio file path, expected render error code)
            "corrupt video": (_upload(http, os.urandom(20_000), "video", "mp4"), audio, bad_video),
            "truncated video": (_upload(http, good_video[:4096], "video", "mp4"), audio, bad_video),
            "zero-length video": (_upload(http, b"", "video", "mp4"), audio, bad_video),
            "enormous video": (_upload(http, _enormous_video(tmp_path / "wide.mp4"), "video", "mp4"), audio,
                               bad_video),
            "audio-only video": (_upload(http, good_audio, "video", "mov"), audio, bad_video),
            "corrupt audio": (video, _upload(http, os.urandom(20_000), "audio", "wav"), bad_audio),
            "zero-length audio": (video, _upload(http, b"", "audio", "mp3"), bad_audio),
            "truncated audio": (video, _upload(http, good_audio[:40], "audio", "wav"), bad_audio),
        }
        created = {}
        for name, (video_path, audio_path, _) in cases.items():
            answer = lip_sync(http, video_path, audio_path, name=f"hostile {name} ✨ ユニコード \u202e")
            assert answer.status_code == 200, (name, answer.text)
            created[name] = answer.json()["id"]
        for name, project_id in created.items():
            project = wait_for(http, project_id, timeout_s=120)
            assert project["status"] == "error", (name, project)
            assert project["error"]["code"] == cases[name][2], (name, project["error"])
            assert project["credits_charged"] == 0 and project["name"].startswith(f"hostile {name} ✨")
            _no_leak(project["error"]["message"], server)
        assert balance(http) == before


@pytest.mark.parametrize("target", [
    "http://[::ffff:169.254.169.254]/latest/a.wav",  # metadata, IPv4-mapped
    "http://[2002:a9fe:a9fe::]/a.wav",  # 6to4 wrapping 169.254.169.254
    "http://[64:ff9b::a9fe:a9fe]/a.wav",  # NAT64 of the same
    "http://[fec0::1]/a.wav",  # site-local
    "http://2130706433/a.wav",  # 127.0.0.1 as one number
    "http://127.1/a.wav",  # 127.0.0.1 shortened
    "http://localhost./a.wav",  # a trailing dot
    "http://0.0.0.0:{port}/a.wav",
    "http://user@localhost:{port}/a.wav",
])
def test_ssrf_forms_fail_the_job_refunded_and_say_nothing_of_the_network(server, target):
    target = target.format(port=httpx.URL(server.url).port)
    with server.client() as http:
        video = _upload(http, b"never decoded", "video", "mp4")
        before = balance(http)
        created = lip_sync(http, video, target)
        assert created.status_code == 200, created.text
        project = wait_for(http, created.json()["id"], timeout_s=60)
        assert project["status"] == "error" and project["error"]["code"] == "invalid_audio_file"
        assert project["credits_charged"] == 0 and balance(http) == before
        _no_leak(project["error"]["message"], server)


def test_forged_and_expired_download_links_are_403(server):
    signer = Signer(SECRET.encode())
    project_id = "0123456789abcdef01234567"
    path = f"/downloads/{project_id}/lip-sync-{project_id}.mp4"
    genuine = signer.sign("GET", path, 600)[0]
    signature = httpx.QueryParams(genuine)["signature"]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    forged = f"expires={httpx.QueryParams(genuine)['expires']}&signature={flipped}"
    cases = {
        "forged": forged,
        "expired": signer.sign("GET", path, -5)[0],
        "signed for PUT": signer.sign("PUT", path, 600)[0],
        "no signature": "",
        "other secret": Signer(b"x" * 32).sign("GET", path, 600)[0],
        "extended expiry": genuine.replace("expires=", "expires=9"),
    }
    for case, query in cases.items():
        answer = httpx.get(f"{server.url}{path}?{query}")
        assert answer.status_code == 403 and "Forbidden" in answer.json()["message"], case
    # Genuine, but for an output that does not exist.
    assert httpx.get(f"{server.url}{path}?{genuine}").status_code == 404


def test_bad_requests_are_clear_4xx_and_cost_nothing(server):
    with server.client() as http:
        before = balance(http)
        video = _upload(http, b"x", "video", "mp4")
        audio = _upload(http, b"x", "audio", "wav")
        body = {"assets": {"video_source": "file", "video_file_path": video, "audio_file_path": audio},
                "start_seconds": 0.0, "end_seconds": 1.0}
        raw_cases = {
            "huge end": (json.dumps({**body, "end_seconds": 1e308}), 422),
            "huge start and end": (json.dumps({**body, "start_seconds": 1e308, "end_seconds": 1.5e308}),
                                   422),
            "overflowing literal": (json.dumps(body).replace('"end_seconds": 1.0', '"end_seconds": 1e999'),
                                    400),
            "Infinity": (json.dumps(body).replace('"end_seconds": 1.0', '"end_seconds": Infinity'), 400),
            "NaN": (json.dumps(body).replace('"start_seconds": 0.0', '"start_seconds": NaN'), 400),
            "huge integer": (json.dumps(body).replace('"end_seconds": 1.0', '"end_seconds": ' + "9" * 5000),
                             400),
            "negative fps": (json.dumps({**body, "max_fps_limit": -1e308}), 400),
            "traversal": (json.dumps({**body, "assets": {**body["assets"], "video_file_path":
                                                          "api-assets/../../secret.key"}}), 400),
            "unicode traversal": (json.dumps({**body, "assets": {**body["assets"], "audio_file_path":
                                                                 "api-assets/ü/‥/‥/etc/passwd"}}), 400),
            "other scheme": (json.dumps({**body, "assets": {**body["assets"], "audio_file_path":
                                                            "gopher://127.0.0.1:70/a.wav"}}), 400),
        }
        for case, (raw, status) in raw_cases.items():
            answer = http.post("/v1/lip-sync", content=raw, headers={"content-type": "application/json"})
            assert answer.status_code == status, (case, answer.status_code, answer.text[:300])
            assert answer.json()["message"], case
            _no_leak(answer.text, server, raw)
        for items in ([{"type": "video", "extension": "exe"}], [{"type": "audio", "extension": "mp４"}],
                      [{"type": "video", "extension": "../mp4"}], [{"type": "script", "extension": "mp4"}]):
            answer = http.post("/v1/files/upload-urls", json={"items": items})
            assert answer.status_code in (400, 422) and answer.json()["message"], items
        assert balance(http) == before
