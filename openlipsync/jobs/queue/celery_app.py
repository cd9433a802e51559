"""The cluster transport: Celery on a Redis broker carries "render project X", nothing more.

The database stays the source of truth. A message is only a nudge: the worker that gets it
claims the row with a conditional UPDATE, so a duplicate or late delivery renders nothing
and charges nothing. Messages may be lost (a Redis restart without persistence, a publish
while Redis is down): every process's sweeper re-submits queued rows, and a short-lived Redis
key per job keeps those re-submissions from piling up copies of a message still waiting.

Late acknowledgement with a prefetch of one: a message leaves Redis only when its render has
ended, and a worker holds no more messages than it has free slots. Each render still runs in
its own process under ``ProjectRunner``, so a crash in native code cannot take the worker down.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading

import redis
from celery import Celery

from openlipsync.core.config import Settings
from openlipsync.jobs.queue.transport import JobQueue, Runner

log = logging.getLogger(__name__)

TASK = "openlipsync.render"
QUEUE = "openlipsync"
#: ``<prefix><project id>`` exists while a message for the job is believed to be in the broker.
SUBMITTED = "openlipsync:submitted:"
#: A publish that cannot reach the broker gives up after about this long (the API answers anyway).
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}


def visibility_timeout_s(settings: Settings) -> int:
    """How long Redis waits for the acknowledgement of a delivered message before it hands the
    message out again: longer than any render, since a message is acknowledged when its render
    ends. The sweeper re-queues a dead worker's job long before (after ``lease_s``)."""
    return int(settings.render_timeout_s + 4 * settings.lease_s + 60)


def resubmit_after_s(settings: Settings) -> int:
    """How long a job may wait for its message before a sweep publishes another one.

    Short enough that a message lost in a way no one noticed costs minutes, not the visibility
    timeout; long enough that a backlog is not flooded with copies (each costs one failed claim).
    """
    return int(max(60.0, 10 * settings.lease_s))


def make_celery(settings: Settings) -> Celery:
    """A Celery app on ``settings.broker_url``, configured so that no job is lost or doubled."""
    if not (settings.broker_url or "").startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"OPENLIPSYNC_BROKER_URL must be a Redis URL (redis://host:6379/0), "
                         f"not {settings.broker_url!r}")
    app = Celery("openlipsync", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        # Requeue when a pool process dies mid-task (prefork pools; the thread pool has none).
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=QUEUE,
        task_serializer="json",
        accept_content=["json"],
        broker_transport_options={"visibility_timeout": visibility_timeout_s(settings)},
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        # A render that outlives a broker outage finishes and settles; the database has its result.
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    return app


class CeleryQueue(JobQueue):
    """Publishes job ids; in ``openlipsync worker`` it also consumes them (``consume``)."""

    def __init__(self, settings: Settings, run: Runner) -> None:
        self.app = make_celery(settings)
        self._redis = redis.Redis.from_url(settings.broker_url, socket_timeout=5, socket_connect_timeout=3)
        self._ttl = resubmit_after_s(settings)
        #: Set when this process stops: running renders hand their job back to the queue.
        self._release = threading.Event()

        @self.app.task(name=TASK, ignore_result=True)
        def render(project_id: str) -> None:
            self._forget(project_id)
            run(project_id, self._release)

    def _forget(self, project_id: str) -> None:
        """The message for the job has arrived; a later sweep may publish a new one if needed."""
        try:
            self._redis.delete(SUBMITTED + project_id)
        except redis.RedisError:
            log.warning("could not clear the submission mark of project %s", project_id)

    def submit(self, project_id: str) -> None:
        marker = SUBMITTED + project_id
        try:
            if not self._redis.set(marker, "1", nx=True, ex=self._ttl):
                return  # a message for it is still on its way
            self.app.send_task(TASK, args=[project_id], queue=QUEUE, retry=True, retry_policy=PUBLISH_RETRY)
        except Exception as exc:  # the broker is down: the row stays queued, a later sweep re-submits it
            log.warning("could not queue project %s (%s); it will be re-submitted", project_id, exc)
            with contextlib.suppress(redis.RedisError):
                self._redis.delete(marker)

    def start(self) -> None:
        """Nothing to start: publishing needs no thread, and consuming is ``consume``."""

    def stop(self) -> None:
        self._release.set()

    def consume(self, concurrency: int, log_level: str = "info") -> None:
        """Run a Celery worker in this (main) thread until SIGTERM or SIGINT (warm shutdown).

        Threads, not prefork: each render already runs in a process of its own, supervised from
        a thread. On shutdown the running renders stop and hand their jobs back to the queue.
        """
        from celery.signals import worker_shutting_down

        worker_shutting_down.connect(lambda **_: self._release.set(), weak=False)
        worker = self.app.Worker(
            pool="threads", concurrency=concurrency, loglevel=log_level.upper(), queues=[QUEUE],
            hostname=f"openlipsync-{os.getpid()}@{socket.gethostname()}",
            without_mingle=True, without_gossip=True, quiet=True,
        )
        worker.start()
