"""Arrays moved out of memory into one temporary file until they are needed.

While the tracking pass follows a face it keeps a few dozen candidate mouths of it: crops of its
widest open mouths (``interior``) and of its closed lips (``closed_lips``). Which of them a render
uses is decided after the pass, over every run of that person. A face run ends at every cut, so
on a long clip with many shots the candidates of every run ended so far piled up in memory: a
10-minute 1080p clip cut every 9.4 s held 64 runs' crops, tens of MB. A run's candidates are
parked here when it ends, and the few a render looks at again are read back.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np


class Spill:
    """An unlinked temporary file that arrays are appended to and read back from; one per pass,
    so a clip of a thousand runs holds one file descriptor, not thousands."""

    def __init__(self) -> None:
        # Closed with this object (the file object's own finaliser), not in a block: the arrays
        # parked here live as long as the candidates that point to them.
        self._file = tempfile.TemporaryFile(prefix="openlipsync-spill-")  # noqa: SIM115

    def put(self, array: np.ndarray) -> int:
        """Write ``array``'s bytes at the end of the file; returns where they start."""
        offset = self._file.seek(0, os.SEEK_END)
        self._file.write(np.ascontiguousarray(array).tobytes())
        return offset

    def get(self, offset: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        data = bytearray(int(np.prod(shape)) * np.dtype(dtype).itemsize)
        self._file.seek(offset)
        if self._file.readinto(data) != len(data):
            raise OSError("the spill file is shorter than what was written to it")
        return np.frombuffer(data, dtype).reshape(shape)


class Parked:
    """An array held in memory until :meth:`park` moves it into a :class:`Spill`; :meth:`get`
    returns it from wherever it is."""

    __slots__ = ("_array", "_spill", "_offset", "_shape", "_dtype")

    def __init__(self, array: np.ndarray) -> None:
        self._array: np.ndarray | None = array
        self._spill: Spill | None = None
        self._offset = 0
        self._shape, self._dtype = array.shape, array.dtype

    def park(self, spill: Spill) -> None:
        if self._array is not None:
            self._offset = spill.put(self._array)
            self._spill, self._array = spill, None

    def get(self) -> np.ndarray:
        if self._array is not None:
            return self._array
        assert self._spill is not None
        return self._spill.get(self._offset, self._shape, self._dtype)
