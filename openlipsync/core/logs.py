"""Structured logs: one JSON object per line, carrying the request id and project id in context.

A request id is taken from the ``X-Request-Id`` header (or made up) for each API request, stored
with the project it creates, and set again by whichever process renders that project, so one
search for the id finds the request and every line of its job, across processes and machines.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import secrets
import sys
import time
from collections.abc import Iterator
from contextvars import ContextVar

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
PROJECT_ID: ContextVar[str | None] = ContextVar("project_id", default=None)
#: A client's own id is kept when it looks like one (no spaces, quotes or control characters).
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
#: Attributes every LogRecord has; anything else came in through ``extra=`` and is logged as a field.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def request_id_from(header: str | None) -> str:
    """The client's request id if it is sane, else a new random one."""
    return header if header and _CLIENT_ID.match(header) else secrets.token_hex(8)


@contextlib.contextmanager
def log_context(request_id: str | None, project_id: str | None = None) -> Iterator[None]:
    """Tag every log line of this thread (or task) with the ids for the length of the block."""
    tokens = (REQUEST_ID.set(request_id), PROJECT_ID.set(project_id))
    try:
        yield
    finally:
        REQUEST_ID.reset(tokens[0])
        PROJECT_ID.reset(tokens[1])


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "request_id", "project_id", ...extra}``."""

    def format(self, record: logging.LogRecord) -> str:
        moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        entry = {
            "time": f"{moment}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, var in (("request_id", REQUEST_ID), ("project_id", PROJECT_ID)):
            if (value := getattr(record, name, None) or var.get()) is not None:
                entry[name] = value
        entry.update({key: value for key, value in record.__dict__.items()
                      if key not in _STANDARD and key not in entry})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str, json_lines: bool) -> None:
    """Send the ``openlipsync.*`` loggers to stderr at ``level``, as JSON lines or plain text.

    Only our own logger tree is configured, so Celery and uvicorn keep their formats and ours
    survive Celery taking over the root logger.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("openlipsync")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
