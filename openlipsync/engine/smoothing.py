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


@dataclass(frozen=True)
class OneEuroParams:
    #: Cutoff for a still point, in cycles per frame (0.03 ~ 0.8 Hz at 25 fps).
    min_cutoff: float = 0.03
    #: Cutoff added per unit of speed, speed being eye distances per frame.
    beta: float = 40.0
    #: Cutoff of the speed estimate itself, in cycles per frame; high so the filter wakes up fast.
    d_cutoff: float = 0.3


def _alpha(cutoff: np.ndarray | float) -> np.ndarray | float:
    """Smoothing factor of a first-order low-pass at ``cutoff`` cycles per sample."""
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau)


class OneEuro:
    """Causal One Euro filter over an array of 2-D points, one cutoff per point."""

    def __init__(self, params: OneEuroParams) -> None:
        self._p = params
        self._alpha_d = _alpha(params.d_cutoff)
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    def __call__(self, x: np.ndarray, scale: float) -> np.ndarray:
        """Filter one sample ``x`` (..., 2); ``scale`` is the eye distance in the units of ``x``."""
        if self._x is None:
            self._x = np.array(x, dtype=np.float64)
            self._dx = np.zeros_like(self._x)
            return self._x.copy()
        self._dx += self._alpha_d * (x - self._x - self._dx)
        speed = np.linalg.norm(self._dx, axis=-1, keepdims=True) / scale
        self._x += _alpha(self._p.min_cutoff + self._p.beta * speed) * (x - self._x)
        return self._x.copy()


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

    ``raw`` and ``out`` are (n, ..., 2) arrays (memory maps work: both passes touch one frame at a
    time, so a long run costs no extra memory); ``scale`` (n,) is the eye distance per frame.
    """
    n = len(raw)
    forward = OneEuro(params)
    for i in range(n):
        out[i] = forward(raw[i], float(scale[i]))
    backward = OneEuro(params)
    for i in range(n - 1, -1, -1):
        out[i] = 0.5 * (out[i] + backward(raw[i], float(scale[i])))
