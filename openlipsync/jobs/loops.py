"""The background loops that every server and worker process runs (sweepers, webhook delivery).

They all lean on the database, which may be away for a while (a restart, a cut network). A loop
that logged a traceback at every turn would bury the log in identical errors, so a failing loop
says so once, backs off, and says so again when it works.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

#: A failing loop waits at most this long between tries (or its interval, when that is longer).
MAX_BACKOFF_S = 5.0


def first_line(exc: BaseException) -> str:
    """The error in one line: SQLAlchemy's messages go on with the SQL and a help link."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def repeat(stop: threading.Event, step: Callable[[], bool], interval_s: float, what: str) -> None:
    """Call ``step`` until ``stop`` is set: at once again while it returns True (more work is
    waiting), else after ``interval_s``.

    A step that raises is logged once, as one warning line, then retried quietly with a delay
    that doubles up to ``max(interval_s, MAX_BACKOFF_S)``; the first success after that is
    logged as a warning too, so whoever saw the failure also sees it end.
    """
    failures = 0
    while not stop.is_set():
        try:
            more = step()
        except Exception as exc:
            failures += 1
            if failures == 1:
                log.warning("%s failed (%s); retrying quietly until it works again", what, first_line(exc))
            log.debug("%s failed (try %d)", what, failures, exc_info=True)
            stop.wait(min(interval_s * 2**failures, max(interval_s, MAX_BACKOFF_S)))
            continue
        if failures:
            log.warning("%s works again (after %d failed tries)", what, failures)
            failures = 0
        if not more:
            stop.wait(interval_s)
