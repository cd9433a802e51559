"""Which transport a process uses: the only module that knows both, so neither imports the other."""

from __future__ import annotations

from openlipsync.core.config import Settings
from openlipsync.jobs.queue.transport import JobQueue, LocalPoolQueue, Runner


def make_queue(settings: Settings, run: Runner) -> JobQueue:
    """Celery when ``OPENLIPSYNC_BROKER_URL`` is set, else the in-process pool; the same job code."""
    if settings.broker_url:
        from openlipsync.jobs.queue.celery_app import CeleryQueue

        return CeleryQueue(settings, run)
    return LocalPoolQueue(run, settings.workers)
