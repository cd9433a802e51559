"""The schema comes from the migrations shipped in the package, applied by `openlipsync db upgrade`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from openlipsync.store.db import Database, upgrade
from openlipsync.store.models import ApiKey

TABLES = {"alembic_version", "api_keys", "uploads", "projects", "webhooks", "webhook_deliveries",
          "rate_windows"}


def test_db_upgrade_command_creates_the_schema(tmp_path):
    env = {**os.environ, "OPENLIPSYNC_DATA_DIR": str(tmp_path)}
    for _ in range(2):  # a second run finds nothing to do
        done = subprocess.run([sys.executable, "-m", "openlipsync.cli", "db", "upgrade"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    db = Database(f"sqlite:///{tmp_path / 'openlipsync.db'}")
    assert set(inspect(db.engine).get_table_names()) >= TABLES
    with db.session() as session:
        assert session.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"
    db.dispose()


def test_an_existing_database_is_upgraded_and_keeps_its_projects(tmp_path):
    """A 0003 database (before face picks) with a queued project: `db upgrade` adds the column,
    keeps the row, and the job it makes for a worker lets the engine choose the face."""
    from alembic import command
    from alembic.config import Config

    from openlipsync.jobs.projects.lifecycle import _job
    from openlipsync.store.db import MIGRATIONS, make_engine
    from openlipsync.store.models import Project

    url = f"sqlite:///{tmp_path / 'openlipsync.db'}"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = make_engine(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
        connection.execute(text("INSERT INTO api_keys (id, name, key_hash, prefix, credits, created_at) "
                                "VALUES ('k', 'k', 'h', 'p', 5, 0)"))
        connection.execute(text(
            "INSERT INTO projects (id, key_id, name, status, mode, start_seconds, end_seconds, "
            "video_source, video_input, audio_input, public_base_url, estimate, credits_charged, fps, "
            "width, height, progress, enabled, attempts, created_at) VALUES ('p', 'k', 'old', 'queued', "
            "'lite', 0, 1, 'file', 'api-assets/a/video.mp4', 'api-assets/b/audio.wav', 'http://x', 30, "
            "30, 30, -1, -1, 0, 1, 0, 0)"))
    engine.dispose()
    assert "face" not in {column["name"] for column in inspect(make_engine(url)).get_columns("projects")}

    env = {**os.environ, "OPENLIPSYNC_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "openlipsync.cli", "db", "upgrade"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    db = Database(url)
    with db.session() as session:
        assert session.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"
        project = session.get(Project, "p")
        assert (project.name, project.status, project.credits_charged) == ("old", "queued", 30)
        assert project.face is None
        assert _job(project)["face"] is None
        project.face = '{"index": 1}'
    with db.session() as session:
        assert _job(session.get(Project, "p"))["face"] == {"index": 1}
    db.dispose()


def test_balance_cannot_go_negative_even_by_mistake(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    upgrade(url)
    db = Database(url)
    with db.session() as session:
        session.add(ApiKey(id="k", name="k", key_hash="h", prefix="p", credits=5))
    with pytest.raises(IntegrityError), db.session() as session:
        session.execute(text("UPDATE api_keys SET credits = credits - 6 WHERE id = 'k'"))
    with db.session() as session:
        assert session.get(ApiKey, "k").credits == 5
    db.dispose()
