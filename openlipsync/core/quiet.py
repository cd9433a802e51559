"""Keeping third-party chatter out of our logs and terminals.

MediaPipe and TensorFlow Lite log from C++ (glog/absl) straight to file descriptor 2, a few
lines per render ("Created TensorFlow Lite XNNPACK delegate", "All log messages before
absl::InitializeLog() ..."), and they ignore Python's logging. The environment variables below
must be set before mediapipe is imported; the lines absl writes before reading them need
descriptor 2 pointed elsewhere while the models load and run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import TextIO

#: Read by glog, absl and TensorFlow when they start; 2/3 keep errors, drop info and warnings.
NATIVE_LOG_ENV = {"GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "3", "ABSL_MIN_LOG_LEVEL": "2"}
#: Python loggers of libraries that report routine events as warnings.
CHATTY_LOGGERS = ("absl", "jax._src.xla_bridge", "matplotlib")


def quiet_third_party() -> None:
    """Set the native log levels (unless the operator chose others) and mute chatty loggers."""
    for name, value in NATIVE_LOG_ENV.items():
        os.environ.setdefault(name, value)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[TextIO]:
    """Point descriptor 2 at /dev/null (native code's logging) and hand back the real stderr.

    Yields a text stream on the original stderr, for our own progress, messages and tracebacks.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    stream = os.fdopen(os.dup(saved), "w", buffering=1)
    try:
        yield stream
    finally:
        stream.flush()
        os.dup2(saved, 2)
        os.close(saved)
        stream.close()
