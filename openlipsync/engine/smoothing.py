"""Zero-phase One Euro smoothing of landmark tracks.

Face mesh landmarks jitter by about a tenth of a percent of the eye distance from frame to frame,
which shows as quivering lips during silence once a renderer follows them. A fixed low-pass filter
would calm that but also delay and flatten fast mouth openings. The One Euro filter (Casiez et al.,
CHI 2012) lowers its cutoff while a point is still and raises it while the point moves fast, so it
removes jitter without smearing real motion. Every landmark gets its own cutoff, driven by its own
speed: a mouth that opens while the head is still must not be slowed by the still head.

A causal One Euro filter still lags a little at the onset of motion. The whole track exists before
rendering, so each run is filtered forwards and backwards and the two are averaged: the lag of one
is the lead of the other, and the result has zero phase (a symmetric response around every change).

Times are in frames, not seconds: callers know frames, and the clips this serves run at 24-60 fps,
where a cutoff per frame behaves alike. Speeds are divided by the face's eye distance so the same
parameters hold for a face 60 px or 600 px wide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from openlipsync.engine import pages


@dataclass(frozen=True)
class OneEuroParams:
    #: Cutoff for a still point, in cycles per frame (0.03 ~ 0.8 Hz at 25 fps).
    min_cutoff: float = 0.03
    #: Cutoff added per unit of speed, speed being eye distances per frame.
    beta: float = 40.0
    #: Cutoff of the speed estimate itself, in cycles per frame; high so the filter wakes up fast.
    d_cutoff: float = 0.3


class OneEuro:
    """Causal One Euro filter over (..., n, 2) points, one cutoff per point.

    A dozen whole-array operations per sample: the filter runs forwards and backwards over every
    frame of a clip, so its per-call overhead is what it costs.
    """

    def __init__(self, params: OneEuroParams) -> None:
        self._p = params
        self._alpha_d = 1.0 / (1.0 + 1.0 / (2.0 * math.pi * params.d_cutoff))
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    def __call__(self, x: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """Filter one sample ``x`` (..., n, 2); ``scale`` (...) is the eye distance in the units of
        ``x``. Returns the filter's state: copy it to keep it past the next call."""
        if self._x is None:
            self._x = np.array(x, dtype=np.float64)
            self._dx = np.zeros_like(self._x)
            return self._x
        step = x - self._x
        self._dx += self._alpha_d * (step - self._dx)
        # alpha = 1 / (1 + tau), tau = 1 / (2 pi cutoff): alpha = w / (w + 1) with w = 2 pi cutoff.
        w = np.hypot(self._dx[..., 0], self._dx[..., 1])
        w *= (2.0 * math.pi * self._p.beta / np.asarray(scale, dtype=np.float64))[..., None]
        w += 2.0 * math.pi * self._p.min_cutoff
        step *= (w / (w + 1.0))[..., None]
        self._x += step
        return self._x


def contiguous_runs(ok: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` index pairs of the runs of True in ``ok``."""
    flags = np.concatenate(([False], np.asarray(ok, dtype=bool), [False]))
    edges = np.flatnonzero(flags[1:] != flags[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def smooth_run(
    raw: np.ndarray,
    out: np.ndarray,
    scale: np.ndarray,
    params: OneEuroParams = OneEuroParams(),
) -> None:
    """Zero-phase One Euro of one contiguous run: ``out[i]`` = mean of the forward and backward pass.

    ``raw`` and ``out`` are (n, points, 2) arrays; ``scale`` (n,) is the eye distance per frame.
    Both passes run in one loop, as the two rows of one filter (half the per-call overhead): step i
    filters frame i forwards and frame n-1-i backwards. The first pass to reach a frame stores its
    value in ``out``, the second averages into it, so memory maps work and a long run costs no
    memory beyond one frame.
    """
    n = len(raw)
    both = OneEuro(params)
    sample = np.empty((2, *raw.shape[1:]))
    scales = np.empty(2)
    for i in range(n):
        j = n - 1 - i
        sample[0], sample[1] = raw[i], raw[j]
        scales[0], scales[1] = scale[i], scale[j]
        forward, backward = both(sample, scales)
        if i < j:
            out[i], out[j] = forward, backward
        elif i == j:
            out[i] = 0.5 * (forward + backward)
        else:
            out[i] = 0.5 * (out[i] + forward)
            out[j] = 0.5 * (out[j] + backward)
        if (i + 1) % pages.EVERY == 0:
            pages.release(raw)
            pages.release(out)
