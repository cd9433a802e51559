"""Landmark memory maps give their pages back behind a pass, and lose nothing doing so."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openlipsync.engine import pages
from openlipsync.engine.face_track import FrameStore


def resident_mib() -> float:
    """This process's resident memory, from the kernel's own count."""
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("/proc/self/smaps_rollup has no Rss line")


def test_a_store_written_and_read_keeps_only_a_few_mib_resident():
    frames = 24000  # 86 MiB of landmarks: 13 minutes at 30 fps
    store = FrameStore(frames)
    rng = np.random.default_rng(3)
    row = rng.uniform(0, 1920, size=(468, 2)).astype(np.float32)
    before = resident_mib()
    for k in range(frames):
        store.append(row + k)
    written = resident_mib() - before
    assert written < 20, f"{written:.0f} MiB resident after writing 86 MiB: the pages behind were kept"
    points = store.frames()
    checked = [i for i, face in pages.rows(points, range(0, frames, 7)) if np.array_equal(face, row + i)]
    assert len(checked) == len(range(0, frames, 7)), "a released page came back without its data"
    assert resident_mib() - before < 20, "reading the store back left it resident"
    points[:] = 0.0  # a whole-array write, then an explicit release
    pages.release(points)
    assert resident_mib() - before < 20
    assert not points[::97].any()


def test_release_leaves_an_ordinary_array_alone():
    array = np.arange(12.0).reshape(3, 4)
    pages.release(array)
    assert [i for i, _ in pages.rows(array, [2, 0])] == [2, 0]
    assert array.sum() == 66.0
