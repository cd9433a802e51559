"""Running a frame generator on a thread of its own, a few items ahead of its consumer.

Decoding and colour conversion release the GIL, so a reader that decodes the next frames while
the caller tracks or re-animates this one turns two serial costs into overlapping ones. The
queue is short (memory stays a few frames), errors arrive in the consumer's thread at the point
in the stream where they happened, and a consumer that stops early stops the producer too.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()


def read_ahead(items: Generator[T, None, None], depth: int = 4) -> Iterator[T]:
    """Yield what ``items`` yields, produced on a background thread up to ``depth`` items early."""
    slots: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def offer(entry: tuple[bool, object]) -> bool:
        """Put unless the consumer has gone; False once it has."""
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer((True, item)):
                    return
            offer((True, _END))
        except BaseException as exc:  # raised again in the consumer's thread
            offer((False, exc))
        finally:
            items.close()  # in this thread, which is the one that ran it

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            ok, value = slots.get()
            if not ok:
                raise value
            if value is _END:
                return
            yield value
    finally:
        stop.set()
        thread.join()
