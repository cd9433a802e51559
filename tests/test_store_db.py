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
        assert session.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0003"
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
