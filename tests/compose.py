"""Clips with several people, composed from the shared media the way real videos are built: two
people side by side in one frame, and two shots joined by a hard cut. Each keeps one person's own
audio, so the person it drives is known."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from openlipsync.media.encode import VideoWriter
from openlipsync.media.video import read_frames
from tests.conftest import shared_media
from tests.generate import _background

FPS = 25.0


@dataclass(frozen=True)
class Region:
    """Where a clip sits in the composed frame, and over which frames."""

    x: int
    y: int
    width: int
    height: int
    frames: range

    def of(self, image: np.ndarray) -> np.ndarray:
        return image[self.y : self.y + self.height, self.x : self.x + self.width]

    def centre(self) -> tuple[float, float]:
        return self.x + self.width / 2, self.y + self.height / 2


def _frames(name: str, start: float, seconds: float, size: tuple[int, int]) -> list[np.ndarray]:
    """The clip's frames at 25 fps, centre-cropped to the aspect of ``size`` and resized to it."""
    width, height = size
    images = []
    for frame in read_frames(shared_media(name), start, start + seconds, FPS):
        h, w = frame.image.shape[:2]
        scale = max(width / w, height / h)
        cw, ch = round(width / scale), round(height / scale)
        x, y = (w - cw) // 2, (h - ch) // 2
        images.append(cv2.resize(frame.image[y : y + ch, x : x + cw], size, interpolation=cv2.INTER_AREA))
    return images


def _write(out: Path, images: list[np.ndarray], audio_from: str) -> None:
    height, width = images[0].shape[:2]
    with VideoWriter(out, width, height, FPS, audio_path=shared_media(audio_from), crf=12) as writer:
        for k, image in enumerate(images):
            writer.write(image, k / FPS)


def side_by_side(out: Path, talking: str, other: str | None, *, talking_left: bool, seconds: float = 4.0,
                 hidden: range = range(0)) -> tuple[Region, Region]:
    """``talking`` (its own audio is the track) small beside ``other`` large; their regions.
    On the frames in ``hidden`` the talking person is gone (the backdrop shows); with ``other``
    None the backdrop shows in its place throughout."""
    canvas = (576, 336)
    small, large = (224, 210), (320, 320)
    left_x, right_x = 8, canvas[0] - 8 - 320
    talk_x = left_x if talking_left else canvas[0] - 8 - small[0]
    other_x = right_x if talking_left else left_x
    n = int(seconds * FPS)
    a = _frames(talking, 0.0, seconds, small)[:n]
    b = _frames(other, 0.0, seconds, large)[:n] if other is not None else None
    n = min(len(a), len(b)) if b is not None else len(a)
    talk_region = Region(talk_x, canvas[1] - 8 - small[1], *small, range(n))
    other_region = Region(other_x, 8, *large, range(n))
    # A textured backdrop, as real footage has: a flat one would let the encoder's quality check
    # (media.quality) pass on the backdrop alone.
    backdrop = _background(*canvas)
    images = []
    for k in range(n):
        image = backdrop.copy()
        if k not in hidden:
            talk_region.of(image)[:] = a[k]
        if b is not None:
            other_region.of(image)[:] = b[k]
        images.append(image)
    _write(out, images, talking)
    return talk_region, other_region


def hard_cut(out: Path, talking: str, other: str, *, seconds: float = 3.0) -> tuple[Region, Region]:
    """A shot of ``talking`` (whose own audio plays throughout), then a hard cut to ``other``."""
    size = (352, 352)
    a, b = _frames(talking, 0.0, seconds, size), _frames(other, 0.0, seconds, size)
    _write(out, a + b, talking)
    return Region(0, 0, *size, range(len(a))), Region(0, 0, *size, range(len(a), len(a) + len(b)))
