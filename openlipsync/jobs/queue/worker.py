"""``openlipsync worker``: the render side of a cluster, one per machine (or several).

It is a Celery worker on the broker plus the same background loops as an API process: the
sweeper that re-queues the jobs of workers that vanished, and webhook delivery. So a cluster
keeps recovering jobs even while every API process is down.
"""

from __future__ import annotations

import sys

from openlipsync.core.config import Settings


def run_worker(settings: Settings, log_level: str = "info") -> int:
    """Render jobs from the broker until SIGTERM/SIGINT; returns the process exit status."""
    if not settings.broker_url:
        print("error: openlipsync worker needs OPENLIPSYNC_BROKER_URL (e.g. redis://127.0.0.1:6379/0); "
              "on one machine `openlipsync serve` renders in-process", file=sys.stderr)
        return 2
    from openlipsync.core.logs import configure
    from openlipsync.jobs.queue.celery_app import CeleryQueue
    from openlipsync.jobs.runtime import Runtime

    configure(log_level, settings.log_format == "json")

    runtime = Runtime(settings)
    queue = runtime.queue
    assert isinstance(queue, CeleryQueue)
    runtime.start()
    try:
        queue.consume(max(settings.workers, 1), log_level)
    finally:
        runtime.stop()
    return 0
