"""Which input frame goes out at which time, and reading them back in that order.

Usually the output is the trimmed clip frame for frame. When the speech outlasts the clip and
the caller asked for it, the clip repeats (``loop``) or plays back and forth (``pingpong``)
until the speech ends. Playing backwards needs random access, which a compressed stream does
not give cheaply, so the first forward pass spills frames to a disk cache that the backward
passes read: memory stays flat however long the output.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from openlipsync.engine.options import AudioLonger


@dataclass(frozen=True)
class Schedule:
    source: np.ndarray  # (M,) int: input frame index for each output frame
    times: np.ndarray  # (M,) float: output time of each output frame, seconds
    seconds: float  # length of the output
    policy: AudioLonger = "cut"


def plan(frame_times: np.ndarray, clip_seconds: float, audio_seconds: float, policy: AudioLonger) -> Schedule:
    """Output order for ``policy``; ``frame_times`` are the trimmed clip's frame times from 0."""
    n = len(frame_times)
    if policy == "cut" or audio_seconds <= clip_seconds or n < 2:
        return Schedule(np.arange(n), np.asarray(frame_times, dtype=np.float64), clip_seconds)
    durations = np.diff(np.append(frame_times, clip_seconds))
    durations = np.where(durations > 0, durations, clip_seconds / n)
    forward = np.arange(n)
    backward = forward[-2:0:-1]
    source, times, t, cycle = [], [], 0.0, 0
    while t < audio_seconds:
        order = backward if policy == "pingpong" and cycle % 2 else forward
        for i in order:
            if t >= audio_seconds:
                break
            source.append(int(i))
            times.append(t)
            t += float(durations[i])
        cycle += 1
    return Schedule(np.array(source), np.array(times), t, policy)


def play(schedule: Schedule, read: Callable[[], Iterator[np.ndarray]]) -> Iterator[np.ndarray]:
    """Yield the frames of ``schedule`` in order; ``read()`` decodes the clip from its first frame."""
    if schedule.policy != "pingpong":
        reader = read()
        for k, index in enumerate(schedule.source):
            if index == 0 and k > 0:  # a loop starts the clip again
                reader = read()
            yield next(reader)
        return
    n = int(schedule.source.max()) + 1
    with tempfile.TemporaryDirectory(prefix="openlipsync-frames-") as tmp:
        cache: np.ndarray | None = None
        reader = read()
        for k, index in enumerate(schedule.source):
            if k >= n:  # a copy: the caller paints on the frame it gets, the cache must stay the input
                yield np.array(cache[index])
                continue
            image = next(reader)
            if cache is None:
                cache = np.lib.format.open_memmap(f"{tmp}/frames.npy", mode="w+", dtype=np.uint8,
                                                  shape=(n, *image.shape))
            cache[k] = image
            yield image
