"""Smooth image warps driven by landmark pairs (thin-plate spline, evaluated coarse, applied dense).

A thin-plate spline through ~100 landmark pairs is smooth everywhere and exact at the pairs, so
a mouth can move while fixed anchors around it keep the rest of the face still. Solving it is
a 100x100 system; evaluating it at every pixel would be the expensive part, so it is evaluated
on a coarse grid and the displacement field upsampled, which is invisible because the field is
smooth by construction.
"""

from __future__ import annotations

import cv2
import numpy as np


def _kernel(d2: np.ndarray) -> np.ndarray:
    return d2 * np.log(np.maximum(d2, 1e-12))


def _sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T, 0.0)


def grid_step(scale: float) -> int:
    """Spline grid spacing for a face ``scale`` pixels between the eyes: a tenth of that, so a
    close-up costs what a small face does."""
    return max(8, int(scale / 10))


def displacement(
    dst: np.ndarray,
    src: np.ndarray,
    box: tuple[int, int, int, int],
    *,
    step: int = 10,
    smoothing: float = 1e-4,
) -> np.ndarray:
    """Dense (h, w, 2) float32 field over ``box`` (x0, y0, x1, y1): pixel p pulls from p + field[p].

    The spline passes through every (dst -> src) pair. ``smoothing`` regularises it so nearly
    coincident targets with different sources bend the field instead of folding it.
    """
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    norm = float(max(w, h, 1))
    p = (dst - (x0, y0)) / norm
    n = len(p)
    a = np.zeros((n + 3, n + 3))
    a[:n, :n] = _kernel(_sq_dist(p, p)) + smoothing * np.eye(n)
    a[:n, n] = a[n, :n] = 1.0
    a[:n, n + 1 :] = p
    a[n + 1 :, :n] = p.T
    rhs = np.zeros((n + 3, 2))
    rhs[:n] = (src - dst) / norm
    # OpenCV's LU: single-threaded, so a small system does not pay for a BLAS thread pool.
    ok, coef = cv2.solve(a, rhs, flags=cv2.DECOMP_LU)
    if not ok:
        coef = np.linalg.lstsq(a, rhs, rcond=None)[0]

    gx = np.arange(0, w + step, step, dtype=np.float64)
    gy = np.arange(0, h + step, step, dtype=np.float64)
    grid = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2) / norm
    field = _kernel(_sq_dist(grid, p)) @ coef[:n] + coef[n] + grid @ coef[n + 1 :]
    field = (field * norm).reshape(len(gy), len(gx), 2).astype(np.float32)
    # Node (i, j) sits on pixel (i * step, j * step): sample the grid at pixel / step. An affine
    # map says that without building per-pixel coordinate arrays (half the time of a remap).
    to_grid = np.array([[1.0 / step, 0.0, 0.0], [0.0, 1.0 / step, 0.0]])
    return cv2.warpAffine(field, to_grid, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


def remap(image: np.ndarray, field: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Sample ``image`` through ``field`` over ``box``; returns the float32 patch."""
    x0, y0, x1, y1 = box
    map_x = field[..., 0] + np.arange(x0, x1, dtype=np.float32)[None, :]
    map_y = field[..., 1] + np.arange(y0, y1, dtype=np.float32)[:, None]
    out = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return out.astype(np.float32)
