"""Hard cuts between shots, from a thumbnail of each frame.

A face tracker that follows a crop across a cut may land on whoever stands there in the next
shot, and anything learned per person (the exemplar library, rest lips, lip colour) would then
mix two people. So every face track ends at a cut and the people are matched up again after it.

A cut is a frame that differs from the one before far more than the clip's frames usually do:
the mean absolute difference of 32x18 Lab thumbnails, against a floor (dissolves, flashes and
camera shake stay under it) and against the recent frame-to-frame changes (a fast pan changes
every frame a lot, a cut only once). Colour histograms agree on the same cuts but cost more.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np

_THUMB = (32, 18)
#: Mean absolute Lab difference (0-255 scale) that a cut must exceed: within a shot the shared
#: clips change at most 6.6 between frames; first frames of two different clips differ by 18 or more.
_MIN_CHANGE = 12.0
#: ... and this many times the median change of the frames before it.
_OVER_RECENT = 4.0
_RECENT = 15  # frames whose changes make "recent"


class ShotDetector:
    """Feed consecutive frames to ``update``; it answers whether each one starts a new shot."""

    def __init__(self) -> None:
        self._last: np.ndarray | None = None
        self._recent: deque[float] = deque(maxlen=_RECENT)
        #: Index of the shot the last frame belongs to (0 for the first).
        self.shot = 0
        self._frames = 0

    def update(self, image_rgb: np.ndarray) -> bool:
        """True when ``image_rgb`` is the first frame of a new shot (never for the clip's first)."""
        # Every n-th pixel first: an area resize of a whole 1080p frame would cost more than the
        # rest of the detector together.
        step = max(1, min(image_rgb.shape[:2]) // (4 * _THUMB[1]))
        small = cv2.resize(image_rgb[::step, ::step], _THUMB, interpolation=cv2.INTER_AREA)
        thumb = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
        last, self._last = self._last, thumb
        self._frames += 1
        if last is None:
            return False
        change = float(np.abs(thumb - last).mean())
        usual = float(np.median(self._recent)) if self._recent else 0.0
        cut = change > _MIN_CHANGE and change > _OVER_RECENT * usual
        # A cut's own change would make the next frames' "usual" too high; leave it out.
        self._recent.append(usual if cut else change)
        if cut:
            self.shot += 1
        return cut
