"""A painted inside of the mouth, for a clip that never shows its own (see ``interior``).

A dark hole with a flat bar of upper teeth read as a cartoon at 4x: no lower teeth, no tongue, no
depth, blocky gaps between the teeth. A real mouth in speech shows the upper teeth under the upper
lip, the tips of the lower teeth over the lower lip once the jaw drops, the tongue lying behind
them in a wider opening, and a cavity that darkens towards the throat and the cheeks. Each part is
drawn in the head's canonical frame (inter-ocular units) from the target's inner-lip curves, so it
sits on its jaw whatever the head's roll and size, with edges a pixel or two soft like the rest of
a video frame, under lips that overlap it.
"""

from __future__ import annotations

import cv2
import numpy as np

from openlipsync.engine import mouth_shape as ms
from openlipsync.engine.composite import filled

_CAVITY_RGB = np.array([78.0, 32.0, 36.0])
_TEETH_RGB = np.array([216.0, 206.0, 190.0])
_TONGUE_RGB = np.array([184.0, 96.0, 100.0])
#: Where painted teeth meet, from the mouth's centre line (inter-ocular units: an upper central
#: incisor is ~8.5 mm wide, a lateral ~6.5 mm; a lower incisor ~5.5 mm; ~63 mm between the eyes),
#: and how wide the shadow between two teeth is.
_UPPER_SEAMS = (0.0, 0.135, 0.24)
_LOWER_SEAMS = (0.0, 0.09, 0.175)
_SEAM = 0.012
#: How much shorter a tooth's edge is where it meets the next: the row's edge is scalloped, not cut.
_NOTCH = 0.25
#: Share of the mouth's half-width over which each row of teeth shows (the rest is cheek shadow).
_UPPER_REACH, _LOWER_REACH = 0.75, 0.6
#: Upper teeth show down to this share of the opening, at most _UPPER_DEPTH; lower teeth show once
#: the opening passes _LOWER_FROM, growing with _LOWER_SHARE of the rest up to _LOWER_DEPTH.
_UPPER_SHARE, _UPPER_DEPTH = 0.42, 0.07
_LOWER_FROM, _LOWER_SHARE, _LOWER_DEPTH = 0.05, 0.3, 0.04
#: The tongue rises behind the lower teeth once the opening passes _TONGUE_FROM, by _TONGUE_SHARE of
#: the rest up to _TONGUE_HEIGHT, over _TONGUE_REACH of the mouth's half-width.
_TONGUE_FROM, _TONGUE_SHARE, _TONGUE_HEIGHT, _TONGUE_REACH = 0.06, 0.7, 0.12, 0.75
#: Softness of every painted edge (inter-ocular units, at least _MIN_EDGE_PX pixels).
_EDGE, _MIN_EDGE_PX = 0.005, 0.7


def _soft(distance: np.ndarray, edge: float) -> np.ndarray:
    """0 -> 1 as a signed distance (positive inside) crosses zero over ``edge``."""
    return np.clip(0.5 + distance / edge, 0.0, 1.0)


def _seams(across: np.ndarray, seams: tuple[float, ...]) -> np.ndarray:
    """Shadow (0..1) of the gaps between teeth at ``across`` (distance from the centre line)."""
    return np.clip(sum(np.exp(-(((across - at) / _SEAM) ** 2)) for at in seams), 0.0, 1.0)


def paint_cavity(patch: np.ndarray, target: np.ndarray, box: tuple[int, int, int, int], frame: ms.HeadFrame,
                 gap: float, kept: tuple[float, float], light: float) -> None:
    """Paint the inner mouth into ``patch`` (in place) where the target opens past the source.

    ``gap``: the target opening (inter-ocular units). The teeth are fixed to the jaws, so where the
    source shows teeth, a mouth that opens wider keeps them next to their lip (``kept``: how much of
    the source's opening the upper and the lower lip carry along) and only the new part between
    them is painted; stretching the teeth across it looked smeared. ``light``: the face's brightness
    against a well-lit one, so nothing painted is brighter than the skin around it.
    """
    upper, lower = (frame.to_canonical(target[list(side)]) for side in (ms.INNER_UPPER, ms.INNER_LOWER))
    left, right = float(upper[:, 0].min()), float(upper[:, 0].max())
    top = upper + np.c_[np.zeros(len(upper)), kept[0] * ms.lip_profile(upper[:, 0], left, right)]
    bottom = lower - np.c_[np.zeros(len(lower)), kept[1] * ms.lip_profile(lower[:, 0], left, right)]
    bottom[:, 1] = np.maximum(bottom[:, 1], top[:, 1])
    contour = frame.to_image(np.vstack([top, bottom[::-1]]))
    pad = int(np.ceil(frame.scale * 0.05 * 3)) + 2
    # Work only on the mouth's own box inside the patch: the cavity is a small part of the face.
    mx0, my0 = np.maximum(np.floor(contour.min(axis=0)).astype(int) - pad - (box[0], box[1]), 0)
    mx1, my1 = np.ceil(contour.max(axis=0)).astype(int) + pad - (box[0], box[1])
    sub = patch[my0:my1, mx0:mx1]
    h, w = sub.shape[:2]
    if h == 0 or w == 0:
        return
    offset = (box[0] + mx0, box[1] + my0)
    mask = cv2.GaussianBlur(filled((h, w), contour - offset), (0, 0), max(frame.scale * 0.012, 0.6))

    ys, xs = np.mgrid[0:h, 0:w]
    canon = frame.to_canonical(np.stack([xs + offset[0], ys + offset[1]], -1).reshape(-1, 2)).reshape(h, w, 2)
    u, v = canon[..., 0], canon[..., 1]
    mid, half = (left + right) / 2, max((right - left) / 2, 1e-6)
    across = np.abs(u - mid)
    x = across / half  # 0 at the centre line, 1 at the corners
    upper_at = np.interp(u, *top[np.argsort(top[:, 0])].T)
    lower_at = np.interp(u, *bottom[np.argsort(bottom[:, 0])].T)
    edge = max(_EDGE, _MIN_EDGE_PX / frame.scale)

    # The cavity: darker away from the lips (towards the throat) and towards the cheeks.
    inner = cv2.GaussianBlur(mask, (0, 0), max(frame.scale * 0.05, 1.0))
    shade = (1.0 - 0.35 * np.clip(inner * 1.4, 0.0, 1.0)) * (1.0 - 0.3 * np.clip(x, 0.0, 1.0) ** 2)
    synth = _CAVITY_RGB.astype(np.float32) * light * shade[..., None]

    # The tongue: a mound behind the lower teeth, lit at its front, darker towards its back.
    rise = min(_TONGUE_SHARE * (gap - _TONGUE_FROM), _TONGUE_HEIGHT) - kept[1]
    if rise > 0.005:
        height = rise * np.sqrt(np.clip(1.0 - (x / _TONGUE_REACH) ** 2, 0.0, 1.0))
        above = lower_at - v  # how far up from the lower lip
        tongue = _soft(height - above, edge) * (height > 0)
        lit = (1.0 - 0.3 * np.clip(above / max(rise, 1e-6), 0.0, 1.0)) * (1.0 - 0.3 * x**2)
        synth += tongue[..., None] * (_TONGUE_RGB * light * lit[..., None] - synth)

    # Lower teeth: their tips over the lower lip, in the shadow of the upper lip and teeth.
    depth = min(_LOWER_SHARE * (gap - _LOWER_FROM), _LOWER_DEPTH) - kept[1]
    if depth > 0.004:
        reach = depth * (1.0 - 0.35 * x**2) * (1.0 - _NOTCH * _seams(across, _LOWER_SEAMS))
        down = lower_at - v
        teeth = _soft(reach - down, edge) * _soft(_LOWER_REACH - x, edge / half)
        lit = 0.72 * (1.0 - 0.15 * _seams(across, _LOWER_SEAMS)) * (1.0 - 0.3 * x**2)
        synth += (0.9 * teeth)[..., None] * (_TEETH_RGB * light * lit[..., None] - synth)

    # Upper teeth: under the upper lip, their edges rising towards the canines.
    depth = min(_UPPER_SHARE * gap, _UPPER_DEPTH) - kept[0]
    if depth > 0.005:
        reach = depth * (1.0 - 0.3 * x**2) * (1.0 - _NOTCH * _seams(across, _UPPER_SEAMS))
        down = v - upper_at
        teeth = _soft(reach - down, edge) * _soft(_UPPER_REACH - x, edge / half)
        below = np.clip(down / depth, 0.0, 1.0)
        lit = (0.72 + 0.28 * np.clip(below / 0.3, 0.0, 1.0) - 0.1 * below) * (1.0 - 0.2 * x**2)
        lit *= 1.0 - 0.12 * _seams(across, _UPPER_SEAMS)
        synth += (0.9 * teeth)[..., None] * (_TEETH_RGB * light * lit[..., None] - synth)

    sub += mask[..., None] * (synth - sub)
