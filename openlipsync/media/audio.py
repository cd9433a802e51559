"""Any file's first audio track as mono float32 chunks at one sample rate, streamed.

Time 0 is the first decoded sample of the track. The track is decoded from its beginning and
samples before ``start`` are dropped by count, not by seeking: audio decodes at hundreds of
times real time, and counting is sample-exact where seeking in mp3/aac is not.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path

import av
import numpy as np

from openlipsync.media.errors import MediaError
from openlipsync.media.streams import DECODE_ERRORS, audio_stream, open_input


def iter_audio(
    path: str | os.PathLike[str],
    rate: int = 16000,
    start: float = 0.0,
    duration: float | None = None,
    chunk_seconds: float = 5.0,
) -> Generator[np.ndarray, None, None]:
    """Mono float32 samples in [-1, 1] from ``start`` for ``duration`` seconds (to the end if None).

    Every chunk holds ``round(chunk_seconds * rate)`` samples except the last. The file is
    opened and checked when this is called, so a missing or audio-less file fails at once.
    """
    if start < 0 or (duration is not None and duration < 0) or rate <= 0 or chunk_seconds <= 0:
        raise MediaError("invalid_parameters", f"bad audio range start={start} duration={duration}")
    container = open_input(path, "invalid_audio_file")
    stream = audio_stream(container)
    if stream is None:
        container.close()
        raise MediaError("invalid_audio_file", f"{Path(path).name}: no audio stream")
    skip = round(start * rate)
    remaining = None if duration is None else round(duration * rate)
    return _chunks(container, stream, rate, skip, remaining, round(chunk_seconds * rate), Path(path).name)


def _chunks(
    container, stream, rate: int, skip: int, remaining: int | None, size: int, name: str
) -> Generator[np.ndarray, None, None]:
    pending: list[np.ndarray] = []
    held = 0
    with container:
        for samples in _resampled(container, stream, rate, name):
            if skip:
                dropped = min(skip, len(samples))
                samples, skip = samples[dropped:], skip - dropped
            if remaining is not None:
                samples = samples[:remaining]
                remaining -= len(samples)
            pending.append(samples)
            held += len(samples)
            while held >= size:
                joined = np.concatenate(pending)
                yield joined[:size]
                pending, held = [joined[size:]], held - size
            if remaining == 0:
                break
    if held:
        yield np.concatenate(pending)


def _resampled(container, stream, rate: int, name: str) -> Iterator[np.ndarray]:
    """Decoded samples as mono float32 at ``rate``.

    Channels are averaged here rather than by FFmpeg's mono downmix, which adds them at -3 dB
    each and so lifts loud stereo speech up to 1.41 (clipped, distorted loudness).
    """
    resampler = av.AudioResampler(format="fltp", rate=rate)
    decoded_any = False
    try:
        for frame in container.decode(stream):
            decoded_any = True
            for out in resampler.resample(frame):
                yield _mono(out)
    except DECODE_ERRORS as exc:
        if not decoded_any:
            raise MediaError("invalid_audio_file", f"{name}: the audio does not decode") from exc
    if not decoded_any:
        raise MediaError("invalid_audio_file", f"{name}: the audio stream holds no samples")
    for out in resampler.resample(None):
        yield _mono(out)


def _mono(frame: av.AudioFrame) -> np.ndarray:
    planes = frame.to_ndarray()
    mono = planes[0] if len(planes) == 1 else planes.mean(axis=0, dtype=np.float32)
    return np.clip(mono, -1.0, 1.0)
