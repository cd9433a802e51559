"""``face`` on ``POST /v1/lip-sync``: whose mouth speaks when several people are in view.

The field is ours (the SDK never sends it). A valid pick is stored with the project, echoed in the
project object (an extra key, which the SDK ignores) and reaches the render process as the
``RenderOptions.face`` the engine is given, in embedded and cluster mode alike: the test servers
run with ``tests/record_options`` on ``PYTHONPATH``, which records each call of the real engine's
``render`` (and lets it run unchanged). A bad pick is a 400 naming the field, and costs nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from magic_hour import Client

from tests.conftest import shared_media
from tests.server import MODES, balance, lip_sync, response_schema, running_server, upload, validate, wait_for

RECORDER = Path(__file__).resolve().parent / "record_options"
#: A point on the face in woman_flags.mp4 (590x590): between the eyes and the mouth.
ON_HER_FACE = {"x": 290.0, "y": 280.0}


@pytest.fixture(scope="module", params=MODES)
def server(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("face")
    path = os.pathsep.join(filter(None, [str(RECORDER), os.environ.get("PYTHONPATH")]))
    env = {"PYTHONPATH": path, "OPENLIPSYNC_RECORD_OPTIONS": str(folder / "render-calls.jsonl")}
    with running_server(folder / "server", env=env, mode=request.param) as server:
        yield server


@pytest.fixture(scope="module")
def files(server):
    with server.client() as http:
        return (upload(http, shared_media("woman_flags.mp4"), "video"),
                upload(http, shared_media("speech_en_a.wav"), "audio"))


def render_options(server, project_id: str) -> dict:
    """The ``RenderOptions`` (as a dict) the render process of ``project_id`` gave the engine."""
    sink = Path(server.env["OPENLIPSYNC_RECORD_OPTIONS"])
    calls = [json.loads(line) for line in sink.read_text().splitlines()] if sink.is_file() else []
    # The render writes into a work folder named after the project.
    mine = [call["options"] for call in calls if f"openlipsync-{project_id}-" in call["output"]]
    assert len(mine) == 1, f"expected one render of {project_id}, got {len(mine)}: {calls}"
    return mine[0]


@pytest.mark.parametrize("face, expected", [
    ({**ON_HER_FACE, "time": 0.5}, {**ON_HER_FACE, "time": 0.5, "index": None}),
    # Integers are fine for pixels; no time: the first frame where the person appears.
    ({"x": 290, "y": 280}, {"x": 290.0, "y": 280.0, "time": None, "index": None}),
    # Nulls are absent, as everywhere in this API.
    ({"index": 0, "x": None, "y": None, "time": None}, {"x": None, "y": None, "time": None, "index": 0}),
], ids=["point-at-time", "point", "index"])
def test_a_picked_face_is_stored_and_reaches_the_render(server, files, face, expected):
    with server.client() as http:
        before = balance(http)
        created = lip_sync(http, *files, start=0.0, end=1.0, max_fps=5.0, face=face)
        assert created.status_code == 200, created.text
        assert created.json()["credits_charged"] == 30  # the pick does not change the price
        assert balance(http) == before - 30
        project_id = created.json()["id"]
        stored = {name: value for name, value in expected.items() if value is not None}
        assert http.get(f"/v1/video-projects/{project_id}").json()["face"] == stored
        done = wait_for(http, project_id, timeout_s=240)
        assert done["status"] == "complete", done["error"]
        assert done["face"] == stored
        validate(done, response_schema("/v1/video-projects/{id}"))  # still Magic Hour's object
    options = render_options(server, project_id)
    assert options["face"] == expected
    assert (options["start"], options["end"], options["max_fps"], options["mode"]) == (0.0, 1.0, 5.0, "lite")


def test_a_pick_that_names_nobody_fails_the_job_and_refunds(server, files):
    """woman_flags.mp4 shows one person: index 3 and a point on the backdrop name nobody. The job
    ends in ``invalid_parameters`` with a message that says who is there, and costs nothing."""
    with server.client() as http:
        before = balance(http)
        for face, says in (({"index": 3}, "1 found"), ({"x": 5, "y": 5}, "faces there: person 0")):
            created = lip_sync(http, *files, start=0.0, end=1.0, max_fps=5.0, face=face)
            assert created.status_code == 200, created.text
            done = wait_for(http, created.json()["id"], timeout_s=240)
            assert done["status"] == "error", done
            assert done["error"]["code"] == "invalid_parameters" and says in done["error"]["message"]
        assert balance(http) == before


def test_without_a_pick_the_engine_chooses(server, files):
    """The official SDK's create, which knows nothing of ``face``, works as before: the render gets
    ``face=None`` and the project says null; a project with a pick still parses in the SDK."""
    client = Client(token=server.key, base_url=server.url)
    created = client.v1.lip_sync.create(
        assets={"video_file_path": files[0], "audio_file_path": files[1], "video_source": "file"},
        start_seconds=0.0, end_seconds=1.0, max_fps_limit=5.0, name="sdk, no face",
    )
    assert created.credits_charged == created.estimated_frame_cost == 30
    done = client.v1.video_projects.check_result(id=created.id, wait_for_completion=True,
                                                 download_outputs=False)
    assert done.status == "complete" and len(done.downloads) == 1
    with server.client() as http:
        assert http.get(f"/v1/video-projects/{created.id}").json()["face"] is None
        explicit_null = lip_sync(http, *files, face=None)
        assert explicit_null.status_code == 200, explicit_null.text
        null_id = explicit_null.json()["id"]
        assert http.get(f"/v1/video-projects/{null_id}").json()["face"] is None
        picked = lip_sync(http, *files, face={"index": 1})
        assert picked.status_code == 200, picked.text
        picked_id = picked.json()["id"]
    assert render_options(server, created.id)["face"] is None
    project = client.v1.video_projects.get(id=picked_id)
    assert project.id == picked_id and project.status in ("queued", "rendering", "complete", "error")
    for project_id in (null_id, picked_id):  # not needed further: deleting cancels and refunds
        client.v1.video_projects.delete(id=project_id)


BAD_FACES = {
    "negative index": ({"index": -1}, "face.index"),
    "index too big": ({"index": 10**6}, "face.index"),
    "fractional index": ({"index": 1.5}, "face.index"),
    "index as text": ({"index": "1"}, "face.index"),
    "index as boolean": ({"index": True}, "face.index"),
    "x without y": ({"x": 290}, "face.y"),
    "y without x": ({"y": 280, "time": 1.0}, "face.x"),
    "point and index": ({**ON_HER_FACE, "index": 0}, "not both"),
    "time without a point": ({"index": 0, "time": 1.0}, "face.time"),
    "nothing picked": ({}, "face.index"),
    "unknown keys only": ({"person": 1}, "face.index"),
    "x as text": ({"x": "290", "y": 280}, "face.x"),
    "y as boolean": ({"x": 290, "y": False}, "face.y"),
    "negative x": ({"x": -1, "y": 280}, "face.x"),
    "huge y": ({"x": 290, "y": 1e308}, "face.y"),
    "negative time": ({**ON_HER_FACE, "time": -0.5}, "face.time"),
    "huge time": ({**ON_HER_FACE, "time": 1e300}, "face.time"),
    "time as text": ({**ON_HER_FACE, "time": "1.5"}, "face.time"),
    "a string": ("auto", "face"),
    "a list": ([290, 280], "face"),
    "a number": (0, "face"),
}
#: Number literals Python's json writes but JSON does not have, and ones too long for a float.
BAD_LITERALS = {
    "NaN x": ('{"x": NaN, "y": 280}', "face.x"),
    "Infinity y": ('{"x": 290, "y": Infinity}', "face.y"),
    "-Infinity time": ('{"x": 290, "y": 280, "time": -Infinity}', "face.time"),
    "overflowing x": ('{"x": 1e999, "y": 280}', "face.x"),
    "a 400-digit index": ('{"index": ' + "9" * 400 + "}", "face.index"),
    # Longer than Python parses as a number at all: the whole body is refused, as for any field.
    "a 5000-digit index": ('{"index": ' + "9" * 5000 + "}", "parsing the body"),
}


def test_bad_picks_are_400_naming_the_field_and_cost_nothing(server, files):
    body = {"assets": {"video_source": "file", "video_file_path": files[0], "audio_file_path": files[1]},
            "start_seconds": 0.0, "end_seconds": 1.0}
    raw = {name: json.dumps({**body, "face": face}) for name, (face, _) in BAD_FACES.items()}
    raw |= {name: json.dumps(body)[:-1] + f', "face": {literal}}}'
            for name, (literal, _) in BAD_LITERALS.items()}
    named = {name: field for name, (_, field) in (BAD_FACES | BAD_LITERALS).items()}
    with server.client() as http:
        def projects() -> list[str]:
            return [project["id"] for project in http.get("/v1/video-projects").json()["items"]]

        before, existing = balance(http), projects()
        for name, text in raw.items():
            answer = http.post("/v1/lip-sync", content=text, headers={"content-type": "application/json"})
            assert answer.status_code == 400, f"{name}: {answer.status_code} {answer.text}"
            assert answer.headers["content-type"] == "application/json"
            message = answer.json()["message"]
            assert isinstance(message, str) and named[name] in message, f"{name}: {message!r}"
            assert len(message) < 400, f"{name}: the message is not one clear line: {message!r}"
        assert balance(http) == before
        assert projects() == existing
