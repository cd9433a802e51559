"""Decoded video frames between two times, optionally thinned to a frame-rate limit.

Truncated or damaged input: the frames that decode are yielded and reading stops at the first
undecodable point (a render of a cut-off upload still covers what is there); only input where
not a single frame decodes raises MediaError("invalid_video_file").
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from openlipsync.media import heap
from openlipsync.media.errors import MediaError
from openlipsync.media.pixels import frame_to_rgb
from openlipsync.media.probe import VideoInfo, probe_video, rotation_of
from openlipsync.media.read_ahead import read_ahead
from openlipsync.media.streams import DECODE_ERRORS, open_input, seconds, video_stream

# Timestamps are exact fractions turned into floats; this absorbs the rounding so that a frame
# stamped 1.0 belongs to a range starting at 1.0 and not to the one ending there.
_EPS = 1e-6


@dataclass
class Frame:
    """One output frame; ``time`` is seconds from the trim start (true timestamp, VFR kept)."""

    index: int
    time: float
    image: np.ndarray  # HxWx3 uint8 RGB, upright, even size


def output_fps(info: VideoInfo, max_fps: float | None) -> float:
    """The rate ``read_frames`` delivers (the average rate for VFR input without a binding limit)."""
    return info.fps if max_fps is None else min(info.fps, max_fps)


def read_frames(
    path: str | os.PathLike[str], start: float = 0.0, end: float | None = None, max_fps: float | None = None
) -> Iterator[Frame]:
    """Upright RGB frames with ``start <= t < end`` (clip time), identical on every call.

    Without a binding ``max_fps`` each decoded frame is kept with its own timestamp. With
    ``max_fps`` below the input's average rate the output is a constant-rate grid anchored at
    the first kept frame: slot k at ``t0 + k / max_fps`` shows the latest input frame at or before
    it, so frames are dropped evenly and the clip keeps its length.

    Arguments are checked (and the file probed) when this is called, not on the first ``next``.
    """
    if start < 0 or (end is not None and end <= start + _EPS):
        raise MediaError("invalid_parameters", f"empty or negative time range [{start}, {end})")
    if max_fps is not None and max_fps <= 0:
        raise MediaError("invalid_parameters", f"max_fps must be positive, got {max_fps}")
    info = probe_video(path)
    if info.duration and start >= info.duration:
        raise MediaError("invalid_parameters", f"start {start}s is past the clip end ({info.duration:.3f}s)")
    return read_ahead(_frames(path, info, start, end, max_fps))


def _frames(path, info: VideoInfo, start: float, end: float | None, max_fps: float | None) -> Iterator[Frame]:
    decoded = _decoded(path, info, start, end)
    if max_fps is not None and max_fps < info.fps:
        limit = None if end is None else end - start
        decoded = _on_grid(decoded, max_fps, limit, 1.0 / info.fps)
    index = -1
    for index, (time, frame, rotation) in enumerate(decoded):
        yield Frame(index=index, time=time, image=frame_to_rgb(frame, rotation))
        if (index + 1) % heap.EVERY == 0:
            heap.trim()
    if index < 0:
        raise MediaError("invalid_parameters", f"no frame of {Path(path).name} lies in [{start}, {end})")


Decoded = tuple[float, av.VideoFrame, int]  # (seconds from the trim start, frame, clockwise rotation)


class _SeekMissed(Exception):
    """A seek landed after the requested start or where nothing decodes; raised before any frame."""


def _decoded(path, info: VideoInfo, start: float, end: float | None) -> Iterator[Decoded]:
    """Frames in range, seeking near ``start`` first; a seek that misses is redone from the top.

    Some containers (mpeg-ts, avi without an index, broken cues) seek past the target or to
    nowhere; decoding from the start is then the only way to get the exact same frames as a
    read without a seek.
    """
    if start > 0:
        try:
            yield from _decode(path, info, start, end, seek=True)
            return
        except _SeekMissed:
            pass
    yield from _decode(path, info, start, end, seek=False)


def _decode(path, info: VideoInfo, start: float, end: float | None, *, seek: bool) -> Iterator[Decoded]:
    """Decode with threads. Yields raw av frames so that frames the rate limit drops are never converted."""
    name = Path(path).name
    with open_input(path, "invalid_video_file") as container:
        stream = video_stream(container)
        stream.thread_type = "AUTO"
        origin = seconds(stream.start_time, stream) or 0.0
        step = 1.0 / info.fps
        previous: float | None = None
        try:
            if seek:
                container.seek(int((start + origin) / stream.time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                time = frame.time - origin if frame.time is not None else None
                if time is None or (previous is not None and time <= previous):
                    time = previous + step if previous is not None else 0.0
                if seek and previous is None and time > start + _EPS:
                    raise _SeekMissed
                previous = time
                if time < start - _EPS:
                    continue
                if end is not None and time >= end - _EPS:
                    return
                yield time - start, frame, rotation_of(frame, stream)
        except DECODE_ERRORS as exc:
            if previous is None and seek:
                raise _SeekMissed from exc
            if previous is None:
                raise MediaError("invalid_video_file", f"{name}: the video does not decode") from exc
        if previous is None and seek:
            raise _SeekMissed


def _on_grid(
    decoded: Iterator[Decoded], fps: float, limit: float | None, nominal: float
) -> Iterator[Decoded]:
    """Resample decoded frames onto a constant-rate grid (see ``read_frames``).

    The grid runs to the end of the last kept frame (its own duration, else one nominal frame
    period) or to ``limit``, whichever comes first, so an fps-limited clip keeps its length.
    """
    step = 1.0 / fps
    origin: float | None = None
    current: Decoded | None = None
    slot = 0
    for item in decoded:
        if origin is None:
            origin = item[0]
        while current is not None and origin + slot * step < item[0] - _EPS:
            yield origin + slot * step, current[1], current[2]
            slot += 1
        current = item
    if current is None:
        return
    frame = current[1]
    duration = float(frame.duration * frame.time_base) if frame.duration and frame.time_base else nominal
    stop = current[0] + duration if limit is None else min(current[0] + duration, limit)
    while origin + slot * step < stop - _EPS:
        yield origin + slot * step, current[1], current[2]
        slot += 1
