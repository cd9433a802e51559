"""Runs one claimed project: a render process per job, supervised from a thread of the server.

The supervisor relays progress, renews the lease, enforces the time limit, and settles the job
by what the process reports, or by its absence: a process that dies without a word fails the
job (refunded) and leaves the server running.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from openlipsync.core.config import Settings
from openlipsync.core.logs import log_context
from openlipsync.core.metrics import RENDER_SECONDS
from openlipsync.jobs.delivery.paths import output_key
from openlipsync.jobs.loops import first_line
from openlipsync.jobs.projects import lifecycle
from openlipsync.jobs.projects.lifecycle import Claim, Emit
from openlipsync.jobs.rendering.child import child_main
from openlipsync.store.blobs import BlobStore
from openlipsync.store.db import Database

log = logging.getLogger(__name__)

#: Share of the whole job each engine stage covers, for the project's ``progress``.
STAGES = {"tracking": (0.0, 0.45), "speech": (0.45, 0.5), "rendering": (0.5, 0.99)}

Outcome = tuple  # ("done", summary) | ("error", code, message) | ("released",) | ("lost",)


def overall_progress(stage: str, done: int, total: int) -> float:
    low, high = STAGES.get(stage, (0.0, 0.0))
    return low + (high - low) * min(done / max(total, 1), 1.0)


def _exit_text(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


class ProjectRunner:
    def __init__(self, db: Database, blobs: BlobStore, settings: Settings, emit: Emit) -> None:
        self._db = db
        self._blobs = blobs
        self._settings = settings
        self._emit = emit

    def __call__(self, project_id: str, stop: threading.Event) -> None:
        claim = lifecycle.claim(self._db, project_id, self._settings, self._emit)
        if claim is None:
            return
        mode = claim.job["mode"]
        with log_context(claim.job["request_id"], project_id):
            log.info("render started", extra={"mode": mode})
            began = time.monotonic()
            work_dir = Path(tempfile.mkdtemp(prefix=f"openlipsync-{project_id}-"))
            try:
                outcome = self._supervise(claim, work_dir, stop)
                try:
                    self._settle(project_id, claim, outcome, work_dir)
                except Exception:
                    log.exception("settling project %s failed", project_id)
                    lifecycle.fail(self._db, project_id, claim.token, "unknown_error",
                                   "storing the result failed; the credits were refunded", self._emit)
                    outcome = ("error", "unknown_error", "storing the result failed")
            finally:
                shutil.rmtree(work_dir, ignore_errors=True)
            seconds = time.monotonic() - began
            if outcome[0] == "done":
                RENDER_SECONDS.labels(mode).observe(seconds)
            log.info("render ended", extra={"mode": mode, "outcome": outcome[0], "seconds": round(seconds, 3),
                                            "error_code": outcome[1] if outcome[0] == "error" else None})

    def _supervise(self, claim: Claim, work_dir: Path, stop: threading.Event) -> Outcome:
        settings = self._settings
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=child_main, name=f"render-{claim.job['id']}", daemon=True,
            args=(sender, claim.job, settings.model_dump(mode="json"), str(work_dir), os.getpid()),
        )
        process.start()
        sender.close()
        deadline = time.monotonic() + settings.render_timeout_s
        beat_every = settings.lease_s / 3
        next_beat = time.monotonic() + beat_every
        progress = 0.0
        failed_beats = 0
        renewed = time.monotonic()
        try:
            while True:
                if receiver.poll(0.2):
                    try:
                        message = receiver.recv()
                    except EOFError:
                        process.join(5)
                        log.warning("render process of project %s stopped (%s)", claim.job["id"],
                                    _exit_text(process.exitcode))
                        return ("error", "unknown_error", "the render stopped unexpectedly")
                    if message[0] != "progress":
                        return message
                    progress = overall_progress(*message[1:])
                if stop.is_set():
                    return ("released",)
                if time.monotonic() > deadline:
                    return ("error", "processing_timeout",
                            f"the render took longer than the limit of {settings.render_timeout_s:g} s")
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + beat_every
                    ours, failed_beats = self._beat(claim, progress, failed_beats)
                    if failed_beats == 0:
                        renewed = time.monotonic()
                    # Deleted, taken over, or unrenewed for a whole lease (another worker may own
                    # it now): stop rendering at once.
                    if not ours or time.monotonic() - renewed >= settings.lease_s:
                        return ("lost",)
        finally:
            if process.is_alive():
                process.kill()
                process.join(5)
            receiver.close()

    def _beat(self, claim: Claim, progress: float, failures: int) -> tuple[bool, int]:
        """Renew the lease: (the job is still ours, consecutive failed beats).

        A beat the database does not answer is tried again at the next one (the lease has slack
        for a busy or restarting database); an outage is logged once, not at every beat.
        """
        project_id = claim.job["id"]
        try:
            ours = lifecycle.heartbeat(self._db, project_id, claim.token, self._settings.lease_s, progress)
        except Exception as exc:
            if not failures:
                log.warning("heartbeat of project %s failed (%s); the render goes on", project_id,
                            first_line(exc))
            return True, failures + 1
        if failures:
            log.warning("heartbeat of project %s works again (after %d failed beats)", project_id, failures)
        return ours, 0

    def _settle(self, project_id: str, claim: Claim, outcome: Outcome, work_dir: Path) -> None:
        kind = outcome[0]
        if kind == "done":
            key = output_key(project_id, claim.token)
            self._blobs.put_file(key, work_dir / "output.mp4")
            if not lifecycle.complete(self._db, project_id, claim.token, outcome[1], key, self._emit):
                self._blobs.delete(key)  # this attempt's own file: deleted or taken over meanwhile
        elif kind == "error":
            lifecycle.fail(self._db, project_id, claim.token, outcome[1], outcome[2], self._emit)
        elif kind == "released":
            lifecycle.release(self._db, project_id, claim.token)
