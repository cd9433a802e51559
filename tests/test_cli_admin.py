"""The command line as an operator meets it: it finds an existing installation or says where it
looked, says what each command did, and fails in one line, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.cluster import postgres_database
from tests.conftest import shared_media


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``openlipsync ARGS`` in ``cwd`` with no OPENLIPSYNC_* settings but ``env``."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("OPENLIPSYNC_")}
    return subprocess.run([sys.executable, "-m", "openlipsync.cli", *args], cwd=cwd,
                          env={**clean, **(env or {})}, capture_output=True, text=True, timeout=180)


def one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode != 0, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(("error: ", "error (")), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def test_admin_commands_from_the_wrong_folder_say_where_they_looked(tmp_path):
    commands = (("keys", "list"), ("credits", "add", "k", "5"), ("webhooks", "deliveries"), ("db", "upgrade"))
    for command in commands:
        line = one_line_error(cli(*command, cwd=tmp_path))
        assert str(tmp_path / "openlipsync-data") in line and "openlipsync init" in line
    assert list(tmp_path.iterdir()) == []  # nothing created on the way

    line = one_line_error(cli("keys", "list", "--data-dir", str(tmp_path / "elsewhere"), cwd=tmp_path))
    assert str(tmp_path / "elsewhere") in line
    (tmp_path / "empty").mkdir()
    empty = {"OPENLIPSYNC_DATA_DIR": str(tmp_path / "empty")}
    line = one_line_error(cli("keys", "list", cwd=tmp_path, env=empty))
    assert str(tmp_path / "empty" / "openlipsync.db") in line


def test_init_then_every_command_says_what_it_did(tmp_path):
    env = {"OPENLIPSYNC_DATA_DIR": str(tmp_path / "data")}

    def run(*args: str) -> subprocess.CompletedProcess:
        return cli(*args, cwd=tmp_path, env=env)

    first = run("init")
    assert first.returncode == 0, first.stderr
    assert "initialized" in first.stdout and "first API key" in first.stdout
    again = run("init")
    assert again.returncode == 0 and "already initialized (1 API key); nothing changed" in again.stdout

    created = run("keys", "create", "--name", "acme", "--credits", "50", "--json")
    key = json.loads(created.stdout)
    assert key["secret"].startswith("olk_") and f"created key {key['id']}" in created.stderr
    listed = run("keys", "list").stdout
    assert "name=acme" in listed and "2 API keys in sqlite:///" in listed
    assert "now has 75" in run("credits", "add", key["id"], "25").stdout
    assert f"revoked key {key['id']}" in run("keys", "revoke", key["id"]).stdout

    assert "no webhook deliveries in sqlite:///" in run("webhooks", "deliveries").stdout
    hook = json.loads(run("webhooks", "add", "http://127.0.0.1:9/hook", "--json").stdout)
    removed = run("webhooks", "remove", hook["id"])
    assert removed.returncode == 0, removed.stderr
    assert f"removed webhook {hook['id']} (http://127.0.0.1:9/hook)" in removed.stdout
    assert "0 webhooks in" in run("webhooks", "list").stdout  # gone, not disabled
    assert "no webhook with id" in one_line_error(run("webhooks", "remove", hook["id"]))
    assert "has the newest schema" in run("db", "upgrade").stdout


def test_a_postgres_database_without_tables_is_named_not_used(tmp_path):
    with postgres_database() as url:
        env = {"OPENLIPSYNC_DATABASE_URL": url}
        line = one_line_error(cli("keys", "list", cwd=tmp_path, env=env))
        assert "has no openlipsync tables" in line and url.split("/")[-1].split("?")[0] in line
        assert "newest schema" in cli("db", "upgrade", cwd=tmp_path, env=env).stdout
        assert "0 API keys in postgresql" in cli("keys", "list", cwd=tmp_path, env=env).stdout


def test_errors_are_one_line(tmp_path):
    assert "required" in one_line_error(cli("keys", cwd=tmp_path))
    line = one_line_error(cli("keys", "list", cwd=tmp_path, env={"OPENLIPSYNC_WORKERS": "many"}))
    assert "OPENLIPSYNC_WORKERS='many'" in line
    line = one_line_error(cli("render", "missing.mp4", "missing.wav", "-o", "out.mp4", cwd=tmp_path))
    assert "invalid_video_file" in line and "missing.mp4" in line


def test_render_into_a_missing_folder_fails_before_rendering(tmp_path):
    began = time.monotonic()
    done = cli("render", str(shared_media("man_map.mp4")), str(shared_media("speech_en_a.wav")),
               "-o", str(tmp_path / "no" / "such" / "out.mp4"), cwd=tmp_path)
    line = one_line_error(done)
    assert f"the output folder '{tmp_path / 'no' / 'such'}' does not exist" in line
    assert time.monotonic() - began < 30  # refused up front, not after rendering the clip
    assert not (tmp_path / "no").exists()


def test_render_of_a_range_past_the_end_says_it_was_clipped(tmp_path):
    out = tmp_path / "out.mp4"
    video, audio = shared_media("woman_flags.mp4"), shared_media("speech_en_a.wav")
    done = cli("render", str(video), str(audio), "-o", str(out), "--start", "4.5", "--end", "9",
               "--max-fps", "10", "--json", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["start_seconds"] == 4.5 and summary["end_seconds"] == 5.0 and summary["seconds"] == 0.5
    assert any("clipped to 4.5-5 s" in note for note in summary["notes"]), summary["notes"]
    assert out.stat().st_size > 0


def test_render_face_forms_parse_to_a_face_pick():
    from openlipsync.cli import build_parser
    from openlipsync.engine.options import FacePick

    def face(*given: str):
        return build_parser().parse_args(["render", "v.mp4", "a.wav", "-o", "o.mp4", *given]).face

    assert face() is None  # the engine chooses
    assert face("--face", "412,230") == FacePick(x=412.0, y=230.0)
    assert face("--face", "412.5, 230@1.5") == FacePick(x=412.5, y=230.0, time=1.5)
    assert face("--face=0,0@0") == FacePick(x=0.0, y=0.0, time=0.0)
    assert face("--face", "1") == FacePick(index=1)
    assert face("--face", "0") == FacePick(index=0)


def test_a_bad_face_is_refused_in_one_line_before_rendering(tmp_path):
    video, audio = shared_media("woman_flags.mp4"), shared_media("speech_en_a.wav")
    cases = {"-1": "a face index is 0 or more", "1.5": "is not a face", "x": "is not a face",
             "412": None, "412,": "is not a face", "412,230,7": "is not a face", "412,230@": "is not a face",
             "412,230@soon": "is not a face", "nan,230": "finite", "1e999,230": "finite",
             "-4,230": "0 or more", "412,230@-1": "0 or more", "": "is not a face"}
    for given, expected in cases.items():
        if expected is None:  # a valid index: checked by the test above
            continue
        done = cli("render", str(video), str(audio), "-o", str(tmp_path / "out.mp4"), f"--face={given}",
                   cwd=tmp_path)
        assert done.returncode == 2, (given, done.stderr)
        line = done.stderr.strip()
        assert "\n" not in line and "argument --face" in line and expected in line, (given, line)
        assert "X,Y" in line or "0 or more" in line or "finite" in line, (given, line)
    assert not (tmp_path / "out.mp4").exists()


def test_render_gives_the_engine_the_face_picked(tmp_path):
    """What ``--face`` becomes reaches the engine's ``render`` (recorded by tests/record_options,
    which then runs the real engine)."""
    recorder = Path(__file__).resolve().parent / "record_options"
    calls = tmp_path / "calls.jsonl"
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(recorder), os.environ.get("PYTHONPATH")])),
           "OPENLIPSYNC_RECORD_OPTIONS": str(calls)}
    video, audio = shared_media("woman_flags.mp4"), shared_media("speech_en_a.wav")
    for given, expected in (("290,280@0.5", {"x": 290.0, "y": 280.0, "time": 0.5, "index": None}),
                            ("0", {"x": None, "y": None, "time": None, "index": 0})):
        out = tmp_path / "out.mp4"
        done = cli("render", str(video), str(audio), "-o", str(out), "--end", "0.5", "--max-fps", "5",
                   "--face", given, "--json", "-q", cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        assert out.stat().st_size > 0 and json.loads(done.stdout)["frames"] > 0
        assert json.loads(calls.read_text().splitlines()[-1])["options"]["face"] == expected
