"""Everything one server or worker process needs, wired once: database, blobs, links, queue, loops.

The loops run in every API and worker process alike, so a cluster keeps sweeping with any one
of them up: stale jobs back to the queue, expired uploads deleted, webhooks delivered.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from prometheus_client import REGISTRY, generate_latest, start_http_server
from sqlalchemy.orm import Session

from openlipsync import __version__
from openlipsync.core.config import Settings
from openlipsync.jobs.delivery.links import Links
from openlipsync.jobs.delivery.signing import Signer, load_secret
from openlipsync.jobs.delivery.webhooks import WebhookDispatcher, record_event
from openlipsync.jobs.loops import repeat
from openlipsync.jobs.projects import lifecycle, retention
from openlipsync.jobs.projects.stats import DatabaseCollector
from openlipsync.jobs.queue.choose import make_queue
from openlipsync.jobs.rendering.runner import ProjectRunner
from openlipsync.store.backends import open_blob_store
from openlipsync.store.counters import make_counter
from openlipsync.store.db import Database, upgrade
from openlipsync.store.models import Project


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        upgrade(settings.resolved_database_url)
        self.db = Database(settings.resolved_database_url)
        self.blobs = open_blob_store(settings.resolved_storage_url, settings)
        self.signer = Signer(load_secret(settings))
        self.links = Links(self.signer, self.blobs)
        self.counter = make_counter(self.db, settings.broker_url)
        self.queue = make_queue(settings, ProjectRunner(self.db, self.blobs, settings, self.emit))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._collector = DatabaseCollector(self.db)
        self._metrics_server: tuple | None = None

    def emit(self, session: Session, project: Project, event: str) -> None:
        record_event(session, project, event, self.links, self.settings)

    def health(self) -> dict:
        """What ``GET /health`` reports; raises when the database does not answer."""
        self.db.ping()
        return {"status": "ok", "version": __version__, "workers": self.settings.workers}

    def recover(self) -> None:
        """Re-queue what dead workers left behind and submit every queued job."""
        for project_id in lifecycle.recover(self.db, self.settings.max_attempts, self.emit):
            self.queue.submit(project_id)

    def _recover_step(self) -> bool:
        self.recover()
        return False

    def _purge_step(self) -> bool:
        """One batch of expired uploads and of dead presigned URLs; True while full batches keep coming."""
        purged = retention.purge_expired_uploads(self.db, self.blobs, self.settings.upload_retention_s)
        checked = retention.check_direct_uploads(self.db, self.blobs, self.settings.max_upload_bytes)
        return retention.BATCH in (purged, checked)

    def _loops(self) -> list[tuple[str, Callable[[], None]]]:
        """The background loops, (thread name, body); each logs a database outage once."""
        settings, stop = self.settings, self._stop
        dispatcher = WebhookDispatcher(self.db, settings)
        return [
            ("reaper", lambda: repeat(stop, self._recover_step, min(settings.lease_s / 2, 10.0),
                                      "recovering stale jobs")),
            ("upload-purge", lambda: repeat(stop, self._purge_step,
                                            retention.sweep_interval_s(settings.upload_retention_s),
                                            "deleting expired uploads")),
            ("webhooks", lambda: dispatcher.run(stop)),
        ]

    def metrics(self) -> bytes:
        """This process's metrics and the database's gauges, in Prometheus' text format."""
        return generate_latest(REGISTRY)

    def _start_metrics(self) -> None:
        """Count the database's gauges in; listen on the metrics port if one is set."""
        REGISTRY.register(self._collector)
        if self.settings.metrics_port is not None:
            self._metrics_server = start_http_server(self.settings.metrics_port, self.settings.metrics_host)

    def start(self) -> None:
        self._start_metrics()
        self.recover()
        self.queue.start()
        for name, target in self._loops():
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self.queue.stop()
        for thread in self._threads:
            thread.join(timeout=15)
        if self._metrics_server is not None:
            self._metrics_server[0].shutdown()
        REGISTRY.unregister(self._collector)
        self.db.dispose()
