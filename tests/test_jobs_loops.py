"""Background loops (sweeper, upload purge, webhooks) say once that the database is away, back
off while it is, and say when it is back, instead of a traceback at every turn."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.exc import OperationalError

from openlipsync.core.config import Settings
from openlipsync.jobs.delivery.webhooks import WebhookDispatcher
from openlipsync.jobs.loops import repeat
from openlipsync.jobs.projects.lifecycle import Claim
from openlipsync.jobs.rendering.runner import ProjectRunner
from openlipsync.store.db import Database
from tests.cluster import free_port


class RecordedStop:
    """A stop event that records the waits asked of it instead of sleeping; set after ``turns``."""

    def __init__(self, turns: int) -> None:
        self.turns = turns
        self.waits: list[float] = []

    def is_set(self) -> bool:
        return len(self.waits) >= self.turns

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        return self.is_set()


def _outage(failures: int):
    """A step that fails ``failures`` times like a database that is down, then finds work once."""
    calls = []

    def step() -> bool:
        calls.append(None)
        if len(calls) <= failures:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused\nmore detail"))
        return len(calls) == failures + 1

    return step


def test_a_failing_loop_logs_once_backs_off_and_logs_its_recovery(caplog):
    stop = RecordedStop(turns=7)
    with caplog.at_level(logging.DEBUG, logger="openlipsync.jobs.loops"):
        repeat(stop, _outage(6), interval_s=0.25, what="webhook delivery")
    # Doubling from the interval up to 5 s while failing; no wait while work keeps coming.
    assert stop.waits == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 0.25]
    warnings = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(warnings) == 2, warnings
    assert "webhook delivery failed (OperationalError: (builtins.ConnectionRefusedError) connection " \
           "refused)" in warnings[0] and "\n" not in warnings[0]
    assert warnings[1] == "webhook delivery works again (after 6 failed tries)"


def test_a_loop_with_a_long_interval_keeps_it_while_failing():
    stop = RecordedStop(turns=3)
    repeat(stop, _outage(3), interval_s=10.0, what="recovering stale jobs")
    assert stop.waits == [10.0, 10.0, 10.0]


def test_webhook_dispatcher_with_its_database_down_warns_once(caplog):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing?connect_timeout=1"
    db = Database(url)  # nothing listens there: every query fails at once
    dispatcher = WebhookDispatcher(db, Settings())
    stop = threading.Event()
    with caplog.at_level(logging.WARNING):
        thread = threading.Thread(target=dispatcher.run, args=(stop,))
        thread.start()
        time.sleep(2.5)  # ten polls at the old fixed 0.25 s
        stop.set()
        thread.join(10)
    db.dispose()
    records = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert [record.getMessage().split(" (")[0] for record in records] == ["webhook delivery failed"]
    assert records[0].exc_info is None, "a traceback at warning level"


def test_heartbeats_during_an_outage_warn_once_and_keep_the_job(caplog):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing?connect_timeout=1"
    db = Database(url)
    runner = ProjectRunner(db, None, Settings(), emit=lambda *_: None)
    claim = Claim(job={"id": "p" * 24}, token="t")
    failures = 0
    with caplog.at_level(logging.WARNING):
        for _ in range(4):
            ours, failures = runner._beat(claim, 0.5, failures)
            assert ours, "an unanswered beat must not give the job up"
    db.dispose()
    assert failures == 4
    records = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(records) == 1 and "heartbeat of project" in records[0].getMessage()
    assert records[0].exc_info is None
