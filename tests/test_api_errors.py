"""Every error case of CONTRACT.md section 8, and the JSON error shape for all the others."""

from __future__ import annotations

import httpx
import pydantic
import pytest
from magic_hour import ApiError, Client

from tests.conftest import shared_media
from tests.server import MODES, balance, lip_sync, running_server, upload, wait_for


@pytest.fixture(scope="module", params=MODES)
def server(request, tmp_path_factory):
    # No render workers: jobs created here stay queued, so balances only move when a test says so.
    with running_server(tmp_path_factory.mktemp("errors"), env={"OPENLIPSYNC_WORKERS": "0"},
                        mode=request.param) as server:
        yield server


@pytest.fixture(scope="module")
def files(server):
    """An uploaded video and audio of the first key."""
    with server.client() as http:
        video = upload(http, shared_media("woman_flags.mp4"), "video")
        return video, upload(http, shared_media("speech_en_a.wav"), "audio")


def _message(answer: httpx.Response, status: int) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert isinstance(body.get("message"), str) and body["message"]
    return body["message"]


def test_bad_or_missing_token_is_401(server):
    for token in ("wrong", None):
        with pytest.raises(ApiError) as caught:
            Client(token=token, base_url=server.url).v1.account.list()
        assert caught.value.status_code == 401 and caught.value.body == {"message": "Unauthorized"}
    with server.client(key="") as http:
        for method, path in (("GET", "/v1/account"), ("POST", "/v1/lip-sync"),
                             ("GET", "/v1/video-projects/x"), ("DELETE", "/v1/video-projects/x"),
                             ("POST", "/v1/files/upload-urls")):
            assert _message(http.request(method, path, json={}), 401) == "Unauthorized"
        answer = http.get("/v1/account", headers={"authorization": "Basic Zm9vOmJhcg=="})
        assert _message(answer, 401) == "Unauthorized"


def test_revoked_key_is_401(server):
    secret = server.create_key(credits=5)
    with server.client(key=secret) as http:
        key_id = http.get("/v1/account").json()["id"]
        server.cli("keys", "revoke", key_id)
        assert _message(http.get("/v1/account"), 401) == "Unauthorized"


def test_missing_local_file_fails_in_the_sdk_before_any_request(server, tmp_path):
    client = Client(token=server.key, base_url=server.url)
    before = client.v1.account.list().credits
    with pytest.raises(FileNotFoundError, match="File not found"):
        client.v1.lip_sync.generate(
            assets={"video_file_path": str(tmp_path / "nope.mp4"),
                    "audio_file_path": str(tmp_path / "nope.wav"), "video_source": "file"},
            start_seconds=0.0, end_seconds=1.0,
        )
    assert client.v1.account.list().credits == before


@pytest.mark.parametrize("start, end, field", [
    (2.0, 1.0, "end_seconds"), (1.0, 1.0, "end_seconds"), (-1.0, 1.0, "start_seconds"),
    (0.0, 0.05, "end_seconds"),
])
def test_bad_time_range_is_400_naming_the_field(server, files, start, end, field):
    client = Client(token=server.key, base_url=server.url)
    before = client.v1.account.list().credits
    with pytest.raises(ApiError) as caught:
        client.v1.lip_sync.create(
            assets={"video_file_path": files[0], "audio_file_path": files[1], "video_source": "file"},
            start_seconds=start, end_seconds=end,
        )
    assert caught.value.status_code == 400
    assert field in caught.value.body["message"]
    assert client.v1.account.list().credits == before


def test_source_without_its_input_is_400(server, files):
    with server.client() as http:
        for assets, field in (({"video_source": "file"}, "assets.video_file_path"),
                              ({"video_source": "youtube"}, "assets.youtube_url"),
                              ({"video_source": "file", "video_file_path": None}, "assets.video_file_path")):
            body = {"assets": {"audio_file_path": files[1], **assets}, "start_seconds": 0, "end_seconds": 1}
            assert field in _message(http.post("/v1/lip-sync", json=body), 400)


def test_file_path_never_uploaded_does_not_exist(server, files):
    with server.client() as http:
        never = "api-assets/0123456789abcdef01234567/video.mp4"
        slot = http.post("/v1/files/upload-urls", json={"items": [{"type": "video", "extension": "mp4"}]})
        asked_not_sent = slot.json()["items"][0]["file_path"]
        for path in (never, asked_not_sent, "video.mp4", "/etc/passwd"):
            message = _message(lip_sync(http, path, files[1]), 400)
            assert f"file path '{path}' does not exist" in message
    # Another key cannot use this key's uploads either.
    with server.client(key=server.create_key(credits=100)) as other:
        assert "does not exist" in _message(lip_sync(other, files[0], files[1]), 400)


def test_unknown_or_foreign_project_is_404(server, files):
    client = Client(token=server.key, base_url=server.url)
    for call in (client.v1.video_projects.get, client.v1.video_projects.delete):
        with pytest.raises(ApiError) as caught:
            call(id="cuid-example")
        assert caught.value.status_code == 404 and caught.value.body == {"message": "Not Found"}
    with server.client() as http:
        mine = lip_sync(http, *files).json()["id"]
    stranger = Client(token=server.create_key(credits=0), base_url=server.url)
    for call in (stranger.v1.video_projects.get, stranger.v1.video_projects.delete):
        with pytest.raises(ApiError) as caught:
            call(id=mine)
        assert caught.value.status_code == 404
    assert client.v1.video_projects.get(id=mine).status == "queued"


def test_bad_enums_fail_in_the_sdk_and_on_the_server(server, files):
    client = Client(token=server.key, base_url=server.url)
    with pytest.raises(pydantic.ValidationError):
        client.v1.lip_sync.create(assets={"audio_file_path": files[1], "video_source": "vimeo"},
                                  start_seconds=0.0, end_seconds=1.0)
    with pytest.raises(pydantic.ValidationError):
        client.v1.lip_sync.create(assets={"audio_file_path": files[1], "video_file_path": files[0],
                                          "video_source": "file"},
                                  start_seconds=0.0, end_seconds=1.0, style={"generation_mode": "ultra"})
    with server.client() as http:
        body = {"assets": {"audio_file_path": files[1], "video_source": "vimeo"}, "start_seconds": 0,
                "end_seconds": 1}
        assert "assets.video_source" in _message(http.post("/v1/lip-sync", json=body), 400)
        answer = lip_sync(http, files[0], files[1], style={"generation_mode": "ultra"})
        assert "style.generation_mode" in _message(answer, 400)


def test_types_are_strict_and_missing_fields_named(server, files):
    with server.client() as http:
        assert "end_seconds" in _message(lip_sync(http, files[0], files[1], end="2"), 400)
        assert "start_seconds" in _message(lip_sync(http, files[0], files[1], start=True), 400)
        assert "max_fps_limit" in _message(lip_sync(http, files[0], files[1], max_fps=0.5), 400)
        message = _message(http.post("/v1/lip-sync", json={"assets": {"video_source": "file"}}), 400)
        for field in ("start_seconds", "end_seconds", "assets.audio_file_path"):
            assert f"Missing required field: {field}" in message
        assert "JSON object" in _message(http.post("/v1/lip-sync", json=[1, 2]), 400)


def test_nulls_are_absent(server, files):
    """The SDK sends null for optionals passed as None: defaults apply (lite, no fps cap, a name)."""
    client = Client(token=server.key, base_url=server.url)
    created = client.v1.lip_sync.create(
        assets={"video_file_path": files[0], "audio_file_path": files[1], "video_source": "file"},
        start_seconds=0.0, end_seconds=1.0, name=None, max_fps_limit=None, style=None, height=None,
        width=None,
    )
    assert created.credits_charged == 30  # 1 s x 30 fps x 1 credit (lite)
    project = client.v1.video_projects.get(id=created.id)
    assert project.name.startswith("Lip Sync - ") and project.fps == 30.0


def test_not_enough_credits_is_402_and_nothing_is_created(server, files):
    poor = server.create_key(credits=29)
    with server.client(key=poor) as http:
        video = upload(http, shared_media("woman_flags.mp4"), "video")
        message = _message(lip_sync(http, video, video), 402)
        assert message.startswith("Payment required") and "30" in message
        assert balance(http) == 29
        pro = lip_sync(http, video, video, end=0.5, style={"generation_mode": "pro"})  # 15 frames x 2
        assert _message(pro, 402).startswith("Payment required")
        ok = lip_sync(http, video, video, end=0.5)  # 15 frames x 1
        assert ok.status_code == 200 and ok.json()["credits_charged"] == 15 and balance(http) == 14
        assert wait_for(http, ok.json()["id"], until=("queued",))["credits_charged"] == 15


def test_too_long_a_clip_is_422(server, files):
    with server.client() as http:
        message = _message(lip_sync(http, files[0], files[1], end=4001.0), 422)
        assert "120000" in message


def test_upload_urls_validation(server):
    with server.client() as http:
        bad_ext = http.post("/v1/files/upload-urls", json={"items": [{"type": "audio", "extension": "mp4"}]})
        assert "'mp4' is an invalid audio extension" in _message(bad_ext, 422)
        assert "mp3, wav" in bad_ext.json()["message"]
        for items, field in (([], "items"), ([{"type": "gif", "extension": "gif"}], "items[0].type"),
                             ([{"type": "video", "extension": ".MP4"}], "items[0].extension"),
                             ([{"type": "video"}], "items[0].extension")):
            assert field in _message(http.post("/v1/files/upload-urls", json={"items": items}), 400)


def test_framework_errors_are_json_too(server):
    with server.client() as http:
        assert _message(http.get("/v1/no-such-thing"), 404) == "Not Found"
        assert _message(http.put("/v1/account"), 405) == "Method Not Allowed"
        assert _message(http.get("/no/such/page.html"), 404) == "Not Found"
        assert http.get("/openapi.json").json()["paths"]["/v1/lip-sync"]["post"]
        assert http.get("/health").json()["status"] == "ok"


def test_project_list_is_the_keys_own_newest_first(server, files):
    """Ours, for the web page: GET /v1/video-projects lists the key's live projects."""
    secret = server.create_key(credits=100)
    with server.client(key=secret) as http:
        video = upload(http, shared_media("woman_flags.mp4"), "video")
        ids = [lip_sync(http, video, video, end=0.5, style={"generation_mode": mode}).json()["id"]
               for mode in ("lite", "standard")]
        listed = http.get("/v1/video-projects").json()["items"]
        assert [p["id"] for p in listed] == ids[::-1]
        assert [p["generation_mode"] for p in listed] == ["standard", "lite"]
        newest = http.get("/v1/video-projects", params={"limit": 1}).json()["items"]
        assert [p["id"] for p in newest] == ids[1:]
        assert "limit" in _message(http.get("/v1/video-projects", params={"limit": 0}), 400)
        assert http.delete(f"/v1/video-projects/{ids[0]}").status_code == 204
        assert [p["id"] for p in http.get("/v1/video-projects").json()["items"]] == ids[1:]
