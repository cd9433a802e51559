"""Per-key limits and the credit paths around them, on a real database (SQLite here; the cluster
suites run the same code on PostgreSQL): concurrent renders per key, the partial refund of a job
deleted while rendering, the settle-down of an estimate, huge clip lengths."""

from __future__ import annotations

import json

import pytest

from openlipsync.core.config import Settings
from openlipsync.jobs.accounts import credits, quotas
from openlipsync.jobs.errors import LimitReached, Unprocessable
from openlipsync.jobs.projects import lifecycle
from openlipsync.jobs.projects.catalog import ProjectSpec, _estimate, delete_project
from openlipsync.store.blobs import LocalBlobStore
from openlipsync.store.counters import DatabaseCounter
from openlipsync.store.db import Database, upgrade
from openlipsync.store.models import QUEUED, RENDERING, ApiKey, Project, Upload, now


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'quotas.db'}"
    upgrade(url)
    database = Database(url)
    with database.session() as session:
        session.add(ApiKey(id="a" * 24, name="a", key_hash="ha", prefix="p", credits=1000))
        session.add(ApiKey(id="b" * 24, name="b", key_hash="hb", prefix="p", credits=1000))
    yield database
    database.dispose()


def _queued(db: Database, key_id: str, charged: int = 30) -> str:
    with db.session() as session:
        project = Project(key_id=key_id, status=QUEUED, mode="lite", start_seconds=0, end_seconds=1,
                          video_source="file", video_input="http://example.com/v.mp4",
                          audio_input="http://example.com/a.wav", public_base_url="http://x",
                          estimate=charged, credits_charged=charged, fps=30, width=-1, height=-1,
                          progress=0.0, enabled=True, attempts=0, created_at=now())
        session.add(project)
    return project.id


def _balance(db: Database, key_id: str) -> int:
    with db.session() as session:
        return session.get(ApiKey, key_id).credits


def _no_events(*_) -> None:
    pass


def test_a_key_renders_at_most_max_concurrent_jobs_while_others_go_first(db):
    settings = Settings(max_concurrent_jobs=1)
    first, second, other = _queued(db, "a" * 24), _queued(db, "a" * 24), _queued(db, "b" * 24)
    claim = lifecycle.claim(db, first, settings, _no_events)
    assert claim is not None
    assert lifecycle.claim(db, second, settings, _no_events) is None  # waits, still queued
    assert lifecycle.claim(db, other, settings, _no_events) is not None  # another key is not held up
    with db.session() as session:
        assert session.get(Project, second).status == QUEUED
    assert lifecycle.fail(db, first, claim.token, "unknown_error", "x", _no_events)
    assert lifecycle.claim(db, second, settings, _no_events) is not None


def test_an_admin_override_lifts_a_limit_for_one_key(db):
    settings = Settings(max_concurrent_jobs=1)
    quotas.set_limits(db, "a" * 24, {"max_concurrent_jobs": 0})
    claims = [lifecycle.claim(db, _queued(db, "a" * 24), settings, _no_events) for _ in range(3)]
    assert all(claims)
    with db.session() as session:
        assert json.loads(session.get(ApiKey, "a" * 24).limits) == {"max_concurrent_jobs": 0}
        assert quotas.KeyLimits.of(session.get(ApiKey, "b" * 24), settings).max_concurrent_jobs == 1
    quotas.set_limits(db, "a" * 24, {"max_concurrent_jobs": None})
    with db.session() as session:
        assert session.get(ApiKey, "a" * 24).limits is None
    with pytest.raises(ValueError):
        quotas.set_limits(db, "a" * 24, {"max_concurrent_jobs": -1})


def test_queued_jobs_and_upload_slots_are_limited(db):
    limits = quotas.KeyLimits(rate_limit_per_minute=0, max_concurrent_jobs=0, max_queued_jobs=2,
                              max_pending_uploads=3, max_upload_storage_bytes=1000)
    for _ in range(2):
        _queued(db, "a" * 24)
    with db.session() as session, pytest.raises(LimitReached, match="Too many jobs"):
        quotas.check_new_job(session, "a" * 24, limits)
    with db.session() as session:
        quotas.check_new_job(session, "b" * 24, limits)
        session.add_all(Upload(file_path=f"api-assets/{i:024x}/video.mp4", key_id="a" * 24, type="video",
                               extension="mp4", expires_at=now() + 60) for i in range(3))
    with db.session() as session, pytest.raises(LimitReached, match="Too many upload URLs"):
        quotas.check_new_uploads(session, "a" * 24, limits, 1)
    with db.session() as session:
        for upload in session.query(Upload).all():
            upload.uploaded_at, upload.size = now(), 400
    with db.session() as session:
        assert quotas.upload_room(session, "a" * 24, limits) == 0
        with pytest.raises(LimitReached, match="storage full"):
            quotas.check_new_uploads(session, "a" * 24, limits, 1)


def test_request_counter_in_the_database_counts_per_key_and_minute(db):
    counter = DatabaseCounter(db)
    assert [counter.hit("k", 100) for _ in range(3)] == [1, 2, 3]
    assert counter.hit("other", 100) == 1
    assert counter.hit("k", 101) == 1  # a new minute starts at one and drops the old one
    limits = quotas.KeyLimits(rate_limit_per_minute=2, max_concurrent_jobs=0, max_queued_jobs=0,
                              max_pending_uploads=0, max_upload_storage_bytes=0)
    quotas.check_rate(counter, "z", limits)
    quotas.check_rate(counter, "z", limits)
    with pytest.raises(LimitReached) as caught:
        quotas.check_rate(counter, "z", limits)
    assert 1 <= caught.value.retry_after_s <= 60


@pytest.mark.parametrize("progress, refunded", [(0.0, 30), (0.5, 15), (0.99, 0), (1.0, 0)])
def test_deleting_a_rendering_job_refunds_only_what_was_not_rendered(db, tmp_path, progress, refunded):
    project_id = _queued(db, "a" * 24, charged=30)
    claim = lifecycle.claim(db, project_id, Settings(), _no_events)
    assert lifecycle.heartbeat(db, project_id, claim.token, 30, progress)
    before = _balance(db, "a" * 24)
    delete_project(db, LocalBlobStore(tmp_path / "blobs"), "a" * 24, project_id)
    assert _balance(db, "a" * 24) == before + refunded
    with db.session() as session:
        project = session.get(Project, project_id)
        assert project.status == "canceled" and project.credits_charged == 30 - refunded
    # The worker's claim is gone: its next heartbeat says so, and it cannot settle.
    assert not lifecycle.heartbeat(db, project_id, claim.token, 30, 1.0)


def test_deleting_a_queued_job_refunds_it_in_full(db, tmp_path):
    project_id = _queued(db, "a" * 24, charged=30)
    before = _balance(db, "a" * 24)
    delete_project(db, LocalBlobStore(tmp_path / "blobs"), "a" * 24, project_id)
    assert _balance(db, "a" * 24) == before + 30


def test_settle_down_and_up(db):
    with db.session() as session:
        assert credits.charge(session, "a" * 24, 300)
        assert credits.settle(session, "a" * 24, 300, 120) == 120  # rendered fewer frames: 180 back
    assert _balance(db, "a" * 24) == 1000 - 120
    with db.session() as session:
        # More frames than estimated: the extra only as far as the balance goes, never below zero.
        assert credits.settle(session, "a" * 24, 120, 120 + 5000) == 120 + 880
    assert _balance(db, "a" * 24) == 0


@pytest.mark.parametrize("end", [1e308, 1.7976931348623157e308, 1e20, 4001.0])
def test_enormous_clip_lengths_are_a_clear_refusal(end):
    spec = ProjectSpec(start_seconds=0.0, end_seconds=end, mode="pro", video_source="file",
                       audio_input="a", video_input="v")
    with pytest.raises(Unprocessable, match="longer than the limit of 120000 frames"):
        _estimate(spec, 120_000)
    assert _estimate(ProjectSpec(0.0, 4000.0, "pro", "file", "a", "v"), 120_000) == (240_000, 30.0)


def test_claim_of_a_job_no_longer_queued_is_none(db):
    project_id = _queued(db, "a" * 24)
    with db.session() as session:
        session.get(Project, project_id).status = RENDERING
    assert lifecycle.claim(db, project_id, Settings(), _no_events) is None
