"""Hand the free pages of the C heap back to the kernel while a long clip is decoded.

Every frame of a pass allocates and frees megabytes (the decoded picture, its RGB image, the
encoder's copy) on several threads. glibc keeps freed memory inside its heaps for reuse, and a
free block stranded between live ones is never given back, so a render's resident memory crept
up with the clip's length while no Python or NumPy allocation grew (``tracemalloc``). Trimming
every :data:`EVERY` frames took a 10-minute 1080p render from 12.7% above a 10-second one to 7.8%
(``benchmarks.memory --long``), at no speed cost we could measure (docs/engine.md).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

#: Frames decoded between two trims: a few seconds of video, a few milliseconds of work.
EVERY = 128


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None under another C library (musl, macOS), which has none."""
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def trim() -> None:
    """Give the heap's free pages back to the kernel (nothing where glibc is not the C library)."""
    if _TRIM is not None:
        _TRIM(0)
