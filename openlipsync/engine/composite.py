"""Paste a re-rendered lower face back into the decoded frame, and the masks the renderers blend with.

Only pixels under a non-zero alpha change; everywhere else the output is the decoded input
pixel, bit for bit (x * 1 + y * 0 is exact in float), so the encoder is the only thing between
the input and the output there.
"""

from __future__ import annotations

import cv2
import numpy as np


def filled(shape: tuple[int, int], polygon: np.ndarray) -> np.ndarray:
    """An anti-aliased float mask of ``polygon`` (pixel coordinates), at quarter-pixel precision."""
    mask = np.zeros(shape, np.float32)
    cv2.fillPoly(mask, [np.round(polygon * 4).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=2)
    return mask


def paste(image: np.ndarray, patch: np.ndarray, box: tuple[int, int, int, int], alpha: np.ndarray) -> None:
    """Blend ``patch`` (float32 RGB) into ``image`` (uint8 RGB, in place) over ``box`` with ``alpha``."""
    x0, y0, x1, y1 = box
    region = image[y0:y1, x0:x1]
    blended = cv2.blendLinear(region.astype(np.float32), patch, 1.0 - alpha, alpha)
    region[:] = cv2.convertScaleAbs(blended)
