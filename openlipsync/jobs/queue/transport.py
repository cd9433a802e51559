"""The job transport: it only carries "render project X"; the database holds everything else.

``LocalPoolQueue`` is the embedded default (a few threads in the server, each supervising one
render process). With a broker configured, ``CeleryQueue`` (``celery_app.py``) replaces it behind
``JobQueue`` (``make_queue`` in ``choose.py`` picks one): losing a message costs nothing,
because queued rows are re-submitted by ``lifecycle.recover``.
"""

from __future__ import annotations

import logging
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Renders one project; returns early when the event is set (the server is stopping).
Runner = Callable[[str, threading.Event], None]


class JobQueue(ABC):
    @abstractmethod
    def submit(self, project_id: str) -> None:
        """Ask for the project to be rendered; submitting a job twice is harmless."""

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None:
        """Stop taking jobs and tell running ones to hand their job back."""


class LocalPoolQueue(JobQueue):
    def __init__(self, run: Runner, workers: int) -> None:
        self._run = run
        self._workers = workers
        self._pending: queue.Queue[str] = queue.Queue()
        self._known: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def submit(self, project_id: str) -> None:
        if self._workers == 0:
            return  # an API-only process: another process's workers pick the row up
        with self._lock:
            if project_id in self._known:
                return
            self._known.add(project_id)
        self._pending.put(project_id)

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                project_id = self._pending.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                self._run(project_id, self._stop)
            except Exception:
                log.exception("render of project %s failed outside the job", project_id)
            finally:
                with self._lock:
                    self._known.discard(project_id)

    def start(self) -> None:
        for index in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"render-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)
