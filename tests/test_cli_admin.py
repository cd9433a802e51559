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
