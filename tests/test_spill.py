"""Arrays parked in the spill file come back as they went in, from one file descriptor."""

from __future__ import annotations

import os

import numpy as np

from openlipsync.engine.spill import Parked, Spill


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_parked_arrays_come_back_as_they_went_in_from_one_file() -> None:
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (40 + k, 30, 3), dtype=np.uint8) for k in range(200)]
    arrays += [rng.normal(size=(k + 1, 2)).astype(np.float32) for k in range(50)]
    parked = [Parked(array) for array in arrays]
    assert all(p.get() is a for p, a in zip(parked, arrays, strict=True))  # in memory until parked
    before = _open_descriptors()
    spill = Spill()
    for p in parked:
        p.park(spill)
        p.park(spill)  # parking twice writes nothing more
    assert _open_descriptors() == before + 1
    for p, array in zip(parked, arrays, strict=True):
        back = p.get()
        assert back is not array and back.dtype == array.dtype and np.array_equal(back, array)
