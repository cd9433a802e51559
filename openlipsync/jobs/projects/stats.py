"""Cluster-wide gauges read from the database when Prometheus scrapes: jobs by status, the queue's
depth and age, webhook deliveries by status.

Read rather than counted because the database is the one place that knows them for every
process at once: each API or worker process reports the same numbers, and a restarted process
reports them right away instead of from zero.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from openlipsync.store.db import Database
from openlipsync.store.models import QUEUED, RENDERING, TERMINAL, Project, WebhookDelivery, now

log = logging.getLogger(__name__)

STATUSES = (QUEUED, RENDERING, *TERMINAL)
DELIVERY_STATUSES = ("pending", "delivered", "failed")


class DatabaseCollector(Collector):
    """A Prometheus collector over ``db``; a scrape while the database is down reports ``up`` 0."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("openlipsync_database_up", "1 if the database answered this scrape")
        try:
            jobs, depth, oldest, deliveries = self._read()
        except Exception as exc:
            log.warning("metrics: the database did not answer (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        family = GaugeMetricFamily("openlipsync_jobs", "Projects by status (deleted ones included)",
                                   labels=["status"])
        for status in STATUSES:
            family.add_metric([status], jobs.get(status, 0))
        yield family
        yield GaugeMetricFamily("openlipsync_queue_depth", "Jobs waiting for a worker", value=depth)
        yield GaugeMetricFamily("openlipsync_queue_oldest_age_seconds",
                                "How long the oldest waiting job has waited (0: none waits)",
                                value=now() - oldest if oldest is not None else 0.0)
        family = GaugeMetricFamily("openlipsync_webhook_deliveries", "Webhook deliveries by status",
                                   labels=["status"])
        for status in DELIVERY_STATUSES:
            family.add_metric([status], deliveries.get(status, 0))
        yield family

    def _read(self) -> tuple[dict[str, int], int, float | None, dict[str, int]]:
        with self._db.session() as session:
            jobs = dict(session.execute(select(Project.status, func.count()).group_by(Project.status)).all())
            waiting = select(func.count(), func.min(Project.created_at)).where(
                Project.status == QUEUED, Project.enabled)
            depth, oldest = session.execute(waiting).one()
            deliveries = dict(session.execute(
                select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)).all())
        return jobs, depth, oldest, deliveries
