"""Hand the pages of a landmark memory map back to the kernel behind a pass over it.

A clip's landmarks live in temporary memory-mapped files (``face_track.FrameStore``): 3.7 KB a
frame per face, 67 MB for 10 minutes at 30 fps. Every page a pass reads or writes stays mapped into
the process, counted in its resident memory, until the map goes: a 10-minute 1080p render peaked
123 MiB above a 10-second one in mapped files alone (docs/benchmarks.md, ``memory-long``).
``MADV_DONTNEED`` on a shared file mapping unmaps the pages without losing a byte: what was
written stays in the file (the page cache, which the kernel can write back and reclaim) and the
next read faults it back in. In-memory arrays pass through untouched.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterable, Iterator

import numpy as np

#: Frames a pass reads or writes between two releases: 3.7 MB of one face's landmarks.
EVERY = 1024


def release(array: np.ndarray) -> None:
    """Drop every resident page of the memory map under ``array``; nothing for other arrays."""
    base = array
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    if base is not None and not base.closed:
        base.madvise(mmap.MADV_DONTNEED)


def rows(array: np.ndarray, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
    """``(i, array[i])`` for each ``i``, releasing the map's pages every :data:`EVERY` rows and at
    the end: a pass over a long clip keeps a few MB of it resident, not all of it."""
    for k, i in enumerate(indices, 1):
        yield int(i), array[i]
        if k % EVERY == 0:
            release(array)
    release(array)
