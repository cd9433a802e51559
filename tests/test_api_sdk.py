"""The official magic-hour SDK (0.90.0), given only base_url, against the real server on loopback."""

from __future__ import annotations

import av
import httpx
import numpy as np
import pytest
from magic_hour import ApiError, Client

from tests.conftest import shared_media
from tests.server import (
    MODES,
    balance,
    lip_sync,
    response_schema,
    running_server,
    upload,
    validate,
    wait_for,
)


@pytest.fixture(scope="module", params=MODES)
def server(request, tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("sdk"), mode=request.param) as server:
        yield server


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch):
    monkeypatch.setenv("MAGIC_HOUR_POLL_INTERVAL", "0.2")


def _envelope(path, start: float, end: float, rate: int = 16000) -> np.ndarray:
    """Loudness per 20 ms of the first audio stream of ``path`` between start and end seconds."""
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        samples = [frame.to_ndarray().ravel()
                   for packet_frame in container.decode(audio=0)
                   for frame in resampler.resample(packet_frame)]
    audio = np.concatenate(samples)[int(start * rate):int(end * rate)]
    hop = rate // 50
    return np.sqrt(np.mean(audio[: len(audio) // hop * hop].reshape(-1, hop) ** 2, axis=1))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


def test_generate_end_to_end(server, tmp_path):
    video, audio = shared_media("woman_flags.mp4"), shared_media("speech_en_a.wav")
    client = Client(token=server.key, base_url=server.url)
    before = client.v1.account.list().credits
    result = client.v1.lip_sync.generate(
        assets={"video_file_path": str(video), "audio_file_path": str(audio), "video_source": "file"},
        start_seconds=0.0, end_seconds=2.0, max_fps_limit=12.0, download_directory=str(tmp_path),
    )
    assert result.status == "complete", result.error
    assert result.downloaded_paths == [str(tmp_path / f"lip-sync-{result.id}.mp4")]
    assert (result.width, result.height, result.fps) == (590, 590, 12.0)

    with av.open(result.downloaded_paths[0]) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        assert float(stream.average_rate) == pytest.approx(12.0, abs=0.01)
        assert (stream.width, stream.height) == (590, 590)
        assert len(container.streams.audio) == 1
        assert float(container.duration / av.time_base) == pytest.approx(2.0, abs=0.15)
    assert frames == 24
    # The sound in the output is the new speech, not the clip's own.
    out = _envelope(result.downloaded_paths[0], 0.0, 2.0)
    assert _corr(out, _envelope(audio, 0.0, 2.0)) > 0.9
    assert _corr(out, _envelope(video, 0.0, 2.0)) < 0.5

    # Settled to the frames rendered (24 at 1 credit), after the 2 s x 30 fps estimate.
    assert result.credits_charged == result.total_frame_cost == 24
    assert client.v1.account.list().credits == before - 24


def test_upload_file_create_get_delete(server):
    client = Client(token=server.key, base_url=server.url)
    video = client.v1.files.upload_file(file=str(shared_media("man_map.mp4")))
    audio = client.v1.files.upload_file(file=str(shared_media("speech_en_b.wav")))
    assert video.startswith("api-assets/") and video.endswith("/video.mp4")
    assert audio.startswith("api-assets/") and audio.endswith("/audio.wav")
    assert server.stored_size(audio) == shared_media("speech_en_b.wav").stat().st_size

    created = client.v1.lip_sync.create(
        assets={"video_file_path": video, "audio_file_path": audio, "video_source": "file"},
        start_seconds=0.0, end_seconds=1.0, max_fps_limit=10.0, name="sdk create",
    )
    assert created.credits_charged == created.estimated_frame_cost == 30
    project = client.v1.video_projects.get(id=created.id)
    assert project.name == "sdk create" and project.type_ == "LIP_SYNC"
    assert project.status in ("queued", "rendering", "complete")

    done = client.v1.video_projects.check_result(id=created.id, wait_for_completion=True,
                                                 download_outputs=False)
    assert done.status == "complete" and len(done.downloads) == 1
    # One output, under the key of the attempt that rendered it.
    [output] = server.stored_under(f"outputs/{created.id}/")
    assert output.endswith(f"/lip-sync-{created.id}.mp4") and server.stored_size(output) > 0

    assert client.v1.video_projects.delete(id=created.id) is None
    with pytest.raises(ApiError) as caught:
        client.v1.video_projects.get(id=created.id)
    assert caught.value.status_code == 404 and caught.value.body == {"message": "Not Found"}
    assert server.stored_size(output) is server.stored_size(video) is server.stored_size(audio) is None
    # The signed link handed out before the delete leads nowhere now (S3 may say 403 for a missing key).
    gone = httpx.get(done.downloads[0].url).status_code
    assert gone == 404 if server.mode == "embedded" else gone in (403, 404)


def test_responses_match_magic_hours_schemas(server):
    with server.client() as http:
        answer = http.post("/v1/files/upload-urls", json={"items": [{"type": "video", "extension": "mp4"},
                                                                      {"type": "audio", "extension": "mp3"}]})
        validate(answer.json(), response_schema("/v1/files/upload-urls", "post"))
        assert [item["file_path"].rsplit("/", 1)[1] for item in answer.json()["items"]] == ["video.mp4",
                                                                                          "audio.mp3"]
        video = upload(http, shared_media("woman_flags.mp4"), "video")
        audio = upload(http, shared_media("speech_en_a.wav"), "audio")
        created = lip_sync(http, video, audio)
        assert created.headers["content-type"] == "application/json"
        validate(created.json(), response_schema("/v1/lip-sync", "post"))
        project_id = created.json()["id"]
        fresh = http.get(f"/v1/video-projects/{project_id}").json()
        validate(fresh, response_schema("/v1/video-projects/{id}"))
        assert fresh["downloads"] == [] and fresh["download"] is None and 0 <= fresh["progress"] <= 1
        done = wait_for(http, project_id)
        validate(done, response_schema("/v1/video-projects/{id}"))
        assert done["download"] == done["downloads"][0] and done["progress"] == 1
        url = httpx.URL(done["downloads"][0]["url"])
        assert url.scheme == "http" and url.path.endswith(f"/lip-sync-{project_id}.mp4")

        # The signed download honours Range requests (players seek with them).
        whole = httpx.get(url)
        assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
        part = httpx.get(url, headers={"range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == whole.content[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
        tail = httpx.get(url, headers={"range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == whole.content[-10:]
        assert httpx.get(url, headers={"range": f"bytes={len(whole.content)}-"}).status_code == 416

        account = http.get("/v1/account").json()
        assert set(account) == {"id", "email", "credits", "tier", "subscription"}
        assert account["credits"] == balance(http)


def test_account_through_the_sdk(server):
    account = Client(token=server.key, base_url=server.url).v1.account.list()
    assert account.credits > 0 and account.tier == "business"
