"""Per-hop values read over each output frame's own span of time.

Audio is analysed on a fixed 10 ms hop; frames come at whatever times the video has (variable
frame rates, a low fps limit). Averaging each hop-wise quantity over the frame's own span, rather
than sampling it at the frame's instant, means a low frame rate neither aliases nor skips a
short closure, and any span costs two lookups in a running integral.
"""

from __future__ import annotations

import numpy as np


def frame_spans(times: np.ndarray, hop: float) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's span: half way to its neighbours (at least one hop wide)."""
    if len(times) == 0:
        return times, times
    if len(times) == 1:
        half = np.full(1, 0.02)
    else:
        gaps = np.diff(times)
        half = np.concatenate([[gaps[0]], (gaps[:-1] + gaps[1:]) / 2, [gaps[-1]]]) / 2
    half = np.maximum(half, hop / 2)
    return times - half, times + half


def window_mean(values: np.ndarray, hop: float, starts: np.ndarray, ends: np.ndarray,
                fill: float | np.ndarray) -> np.ndarray:
    """Mean of per-hop ``values`` over each [start, end) span; ``fill`` outside the audio.

    Hop k stands for [(k - 0.5) hop, (k + 0.5) hop); the running integral of that step
    function is linear between hop edges, so any span's mean costs two lookups.
    """
    values = np.asarray(values, dtype=np.float64)
    count = len(values)
    fill = np.broadcast_to(np.asarray(fill, dtype=np.float64), values.shape[1:])
    integral = np.concatenate([np.zeros((1,) + values.shape[1:]), np.cumsum(values, axis=0) * hop])

    def at(t: np.ndarray) -> np.ndarray:
        pos = t / hop + 0.5  # position in hops from the first edge
        idx = np.clip(np.floor(pos).astype(np.int64), 0, max(count - 1, 0))
        inside = np.clip(pos, 0, count)
        out = np.zeros((len(t),) + values.shape[1:])
        if count:
            frac = (inside - idx).reshape((-1,) + (1,) * (values.ndim - 1))
            out = integral[idx] + frac * hop * values[idx]
        over = (np.maximum(pos - count, 0) + np.minimum(pos, 0)) * hop
        return out + over.reshape((-1,) + (1,) * (values.ndim - 1)) * fill

    return (at(ends) - at(starts)) / (ends - starts).reshape((-1,) + (1,) * (values.ndim - 1))
