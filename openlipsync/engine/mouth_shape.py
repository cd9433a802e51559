"""Mouth geometry in a head-fixed frame: where the lips and jaw are, and where they should go.

Every mode needs the same two answers per frame: how open the source mouth is, and where its
lip and jaw landmarks would be for a different opening and width. Working in a canonical frame
(eye centres at (-0.5, 0) and (0.5, 0), so one unit is the inter-ocular distance) makes the
answers independent of head position, size and roll. The deformation is a small articulatory
model (the jaw drops the lower lip and chin, the upper lip lifts a little, spreading and
rounding move the corners), applied as a *difference* to the current frame's own shape: the
source's opening is taken out and the target's put in, so head pitch and the person's lip shape
stay those of the frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from openlipsync.engine import pages
from openlipsync.engine.face_track import (
    LIPS_INNER,
    LIPS_OUTER,
    LOWER_LIP_INNER_MID,
    MOUTH_CORNERS,
    UPPER_LIP_INNER_MID,
)

RIGHT_EYE = (33, 133)  # corners of the subject's right eye: image left for a frontal face
LEFT_EYE = (362, 263)

# The tracker's closed lip contours, split at the corners into upper and lower halves that both
# run from the subject's right corner to the left one.
INNER_UPPER = LIPS_INNER[:11]
INNER_LOWER = (LIPS_INNER[0], *LIPS_INNER[:10:-1], LIPS_INNER[10])
OUTER_UPPER = LIPS_OUTER[:11]
OUTER_LOWER = (LIPS_OUTER[0], *LIPS_OUTER[:10:-1], LIPS_OUTER[10])
#: Lower half of the face oval, from the right cheek round the chin to the left cheek.
JAW = (132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361)
#: Points between the lower lip and the chin that ride on the jaw.
CHIN = (18, 200, 199, 175, 83, 313, 201, 421, 208, 428, 32, 262)
#: Points that do not move when the jaw opens: nose base, cheeks, upper face oval at nose height.
FIXED = (2, 98, 327, 97, 326, 164, 167, 393, 205, 425, 50, 280, 187, 411, 93, 323, 234, 454, 207, 427)

UPPER_MID, LOWER_MID = UPPER_LIP_INNER_MID, LOWER_LIP_INNER_MID
CORNERS = MOUTH_CORNERS

INNER = tuple(dict.fromkeys(INNER_UPPER + INNER_LOWER))
OUTER = tuple(dict.fromkeys(OUTER_UPPER + OUTER_LOWER))
LIPS = tuple(dict.fromkeys(INNER + OUTER))
MOVING = tuple(dict.fromkeys(INNER + OUTER + JAW + CHIN))
#: What moves on each side of the lip line; the corners belong to both.
UPPER_SIDE = tuple(dict.fromkeys(INNER_UPPER + OUTER_UPPER))
LOWER_SIDE = tuple(dict.fromkeys(INNER_LOWER + OUTER_LOWER + JAW + CHIN))

# Articulation, in inter-ocular units per unit of inner-lip gap.
_UPPER_LIFT = 0.12  # share of the gap the upper lip contributes
_LOWER_DROP = 0.88  # share the lower lip and jaw contribute
_CHIN_DROP = 0.6  # the chin travels less than the lower lip (the jaw rotates about the ear)
_SPREAD = 0.07  # corner travel (each side) for width = +-1
_POUT = 0.025  # lips thicken outward when rounded
#: The rest lips keep the change of the lips' shape slower than this (Gaussian sigma, seconds): a
#: smile held, a lip pressed in thought, the corners dropping. Speech moves the lips with every
#: syllable and word (several times a second), far faster.
EXPRESSION_SECONDS = 1.0


@dataclass(frozen=True)
class HeadFrame:
    """Similarity transform between image pixels and the canonical head frame."""

    origin: np.ndarray  # (2,) eye midpoint in pixels
    axes: np.ndarray  # (2, 2) rows: unit x (towards the subject's left eye), unit y (down the face)
    scale: float  # inter-ocular distance in pixels

    @classmethod
    def from_points(cls, points: np.ndarray) -> HeadFrame:
        # Each eye's two corners averaged by hand: the same sum over two, where ``np.mean`` cost
        # 20 us a call, and this runs several times a frame.
        right = (points[RIGHT_EYE[0]] + points[RIGHT_EYE[1]]) / 2
        left = (points[LEFT_EYE[0]] + points[LEFT_EYE[1]]) / 2
        delta = left - right
        scale = float(np.hypot(*delta))
        ux = delta / max(scale, 1e-6)
        uy = np.array([-ux[1], ux[0]])
        return cls(origin=(left + right) / 2, axes=np.stack([ux, uy]), scale=max(scale, 1e-6))

    def to_canonical(self, pts: np.ndarray) -> np.ndarray:
        return (pts - self.origin) @ self.axes.T / self.scale

    def to_image(self, pts: np.ndarray) -> np.ndarray:
        return pts * self.scale @ self.axes + self.origin


def in_head_frame(points: np.ndarray) -> tuple[np.ndarray, HeadFrame, np.ndarray]:
    """A face's landmarks as float64, its head frame, and the landmarks in that frame."""
    points = np.asarray(points, np.float64)
    frame = HeadFrame.from_points(points)
    return points, frame, frame.to_canonical(points)


def inner_contour(points: np.ndarray) -> np.ndarray:
    """The inner lip line of ``points`` as one closed polygon: the upper lip corner to corner, then
    the lower lip back."""
    return np.vstack([points[list(INNER_UPPER)], points[list(INNER_LOWER)][::-1]])


def inner_gap(points: np.ndarray, frame: HeadFrame | None = None) -> float:
    """Inner-lip gap at the mouth centre, in inter-ocular units (0 = lips together)."""
    frame = frame or HeadFrame.from_points(points)
    up, lo = frame.to_canonical(points[[UPPER_MID, LOWER_MID]])
    return float(max(lo[1] - up[1], 0.0))


def typical_max_gap(gaps: np.ndarray) -> float:
    """How wide this speaker opens: the 95th percentile of the clip's gaps, within human bounds.

    A clip that never opens still gets a natural range, so silent footage can speak.
    """
    if gaps.size == 0:
        return 0.22
    return float(np.clip(np.percentile(gaps, 95), 0.18, 0.34))


#: Where ``teeth_in_lower_lip`` reads the lower lip's own colour (share of its thickness from the
#: inner edge: below any teeth, above the rim's shadow), and where it looks for teeth before it.
_LIP_BODY = 0.8
_TEETH_STEPS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
#: Teeth are greys and off-whites: measured 0.1-0.3 saturation against lips' 0.4-0.6 (woman_indoor,
#: woman_flags' glossy pink, woman_hairbun_closeup).
_TEETH_PALE = 0.6


def _pixels(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The pixels of ``image`` nearest image ``points`` (clamped to the frame), one row each."""
    h, w = image.shape[:2]
    x, y = np.clip(np.round(points).astype(int), 0, (w - 1, h - 1)).T
    return image[y, x]


def teeth_contrast(image: np.ndarray, canon: np.ndarray, to_image: Callable[[np.ndarray], np.ndarray],
                   gap: float) -> tuple[float, float]:
    """How much brighter than the lower lip the opening is right next to the upper and to the
    lower lip, as ratios: teeth are pale and the inside of a mouth is dark, so well above 1 is teeth.

    ``canon`` are a face's landmarks in canonical units (y down the face), ``to_image`` maps such
    points to ``image``'s pixels, ``gap`` is the inner-lip gap.
    """
    upper, lower, rim = (canon[list(side)][3:8] for side in (INNER_UPPER, INNER_LOWER, OUTER_LOWER))

    def brightness(points: np.ndarray) -> float:
        return float(_pixels(image, to_image(points)).mean())

    lip = max(brightness((lower + rim) / 2), 1.0)
    near = min(gap / 4, 0.025)  # teeth begin at the lip; a wide opening is dark beyond them
    return brightness(upper + (0, near)) / lip, brightness(lower - (0, near)) / lip


def teeth_in_lower_lip(image: np.ndarray, canon: np.ndarray, to_image: Callable[[np.ndarray], np.ndarray],
                       contrast: float) -> float:
    """Share of the tracked lower lip's thickness, from its inner edge, that is teeth.

    Over a row of lower teeth the mesh often puts the inner lower lip at the teeth's upper edge, so
    the teeth lie inside the tracked lip (seen on woman_indoor's smile). Read along the middle of
    the lip from the inner edge towards the rim: the run of samples that are ``contrast`` times as
    bright as the lip near its rim and pale (``_TEETH_PALE`` of its saturation at most) is teeth.
    Pale as well as bright: glossy pink lips are brighter at the inner edge than at the rim, but
    as saturated. 0 where the lip starts at its tracked edge.
    """
    lower, rim = (canon[list(side)][3:8] for side in (INNER_LOWER, OUTER_LOWER))

    def colour(t: float) -> tuple[float, float]:
        rgb = _pixels(image, to_image(lower + t * (rim - lower))).astype(np.float64)
        high = np.maximum(rgb.max(axis=1), 1.0)
        return float(rgb.mean()), float(((high - rgb.min(axis=1)) / high).mean())

    lip, lip_saturation = colour(_LIP_BODY)
    share = 0.0
    for t in _TEETH_STEPS:
        brightness, saturation = colour(t)
        if brightness < contrast * max(lip, 1.0) or saturation > _TEETH_PALE * lip_saturation:
            break
        share = t + _TEETH_STEPS[0]
    return share


def lip_profile(x: np.ndarray, left: float, right: float) -> np.ndarray:
    """1 at the mouth centre, falling to 0 at the corners: how much of an opening a point takes."""
    centre, half = (left + right) / 2, max((right - left) / 2, 1e-6)
    return np.sqrt(np.clip(1.0 - ((x - centre) / half) ** 2, 0.0, 1.0))


def articulation(canon: np.ndarray, gap: float, width: float) -> np.ndarray:
    """Displacement (canonical units) of every landmark for an opening ``gap`` and ``width``.

    ``canon`` is the full (468, 2) landmark set in the canonical frame; rows outside MOVING
    get zero. Applying ``articulation(target) - articulation(source)`` to a frame's own shape
    swaps one mouth posture for another.
    """
    disp = np.zeros_like(canon)
    left, right = canon[CORNERS[0], 0], canon[CORNERS[1], 0]
    centre_x = (left + right) / 2
    half = max((right - left) / 2, 1e-6)
    corner_y = (canon[CORNERS[0], 1] + canon[CORNERS[1], 1]) / 2
    chin_y = canon[152, 1]

    upper = list(dict.fromkeys(INNER_UPPER + OUTER_UPPER))
    lower = list(dict.fromkeys(INNER_LOWER + OUTER_LOWER))
    disp[upper, 1] -= _UPPER_LIFT * gap * lip_profile(canon[upper, 0], left, right)
    disp[lower, 1] += _LOWER_DROP * gap * lip_profile(canon[lower, 0], left, right)

    # The jaw contour rides down from nothing at the mouth corners' height to the full chin drop.
    jaw = list(JAW)
    ride = np.clip((canon[jaw, 1] - corner_y) / max(chin_y - corner_y, 1e-6), 0.0, 1.0)
    disp[jaw, 1] += _CHIN_DROP * gap * ride
    # Between the lower lip and the chin the drop eases from the lip's to the chin's, so the
    # tissue under the lip is neither squeezed nor folded.
    chin = list(CHIN)
    lip_y = canon[OUTER_LOWER[5], 1]
    depth = np.clip((canon[chin, 1] - lip_y) / max(chin_y - lip_y, 1e-6), 0.0, 1.0)
    spread = (right - left) * 0.25
    across = lip_profile(canon[chin, 0], left - spread, right + spread)
    disp[chin, 1] += gap * (_LOWER_DROP + (_CHIN_DROP - _LOWER_DROP) * depth) * across

    lips = list(dict.fromkeys(INNER + OUTER))
    rel = (canon[lips, 0] - centre_x) / half
    disp[lips, 0] += _SPREAD * width * np.clip(rel, -1.0, 1.0)
    if width < 0:  # rounding: lips push outward from the mouth's centre line
        outer_up, outer_lo = list(OUTER_UPPER[1:-1]), list(OUTER_LOWER[1:-1])
        disp[outer_up, 1] -= _POUT * -width * lip_profile(canon[outer_up, 0], left, right)
        disp[outer_lo, 1] += _POUT * -width * lip_profile(canon[outer_lo, 0], left, right)
    return disp


def retarget(
    points: np.ndarray,
    gap: float,
    width: float,
    source_gap: float | None = None,
    lips: np.ndarray | None = None,
) -> np.ndarray:
    """The frame's landmarks with the mouth moved from its own posture to (gap, width).

    ``lips`` (canonical, rows in LIPS order) replaces the frame's own closed lips, so that what
    the source lips were doing for the old speech (rounding, a smile, tracker noise) is gone too.
    """
    frame = HeadFrame.from_points(points)
    canon = frame.to_canonical(points)
    src_gap = inner_gap(points, frame) if source_gap is None else source_gap
    base = canon - articulation(canon, src_gap, 0.0)
    if lips is not None:
        base[list(LIPS)] = lips
    return frame.to_image(base + articulation(base, gap, width)).astype(np.float32)


@dataclass(frozen=True)
class RestLips:
    """The speaker's closed lips on each frame: the clip's shape, its slow changes, where they sit."""

    shape: np.ndarray  # (len(LIPS), 2) canonical, centred on 0
    centre: np.ndarray  # (N, 2) canonical lip centre per frame, smoothed over time; nan without a face
    expression: np.ndarray  # (N, len(LIPS), 2) float32: the shape's slow change on each frame

    def at(self, index: int) -> np.ndarray | None:
        centre = self.centre[index]
        return None if np.isnan(centre).any() else self.shape + self.expression[index] + centre

    def held_width(self) -> np.ndarray:
        """(N,) how much wider each frame's rest lips are than the clip's shape (canonical units):
        a smile held makes it positive, lips drawn in negative."""
        right, left = LIPS.index(CORNERS[0]), LIPS.index(CORNERS[1])
        return self.expression[:, left, 0] - self.expression[:, right, 0]


def rest_lips(points: np.ndarray, ok: np.ndarray, frame_rate: float,
              smoothing_frames: float = 2.0) -> RestLips:
    """Each frame's lips with its own opening taken out: one shape, its slow changes, a slow position.

    The shape is the median over the clip. What the lips did for the old speech goes, but not the
    person's expression: each frame keeps how its closed lips differed from the shape, smoothed
    over EXPRESSION_SECONDS of frames at ``frame_rate`` (frames a second), so a held smile stays a
    smile under the new speech while lips in silence stay still. The position follows head motion
    (smoothed over ``smoothing_frames``, per run of tracked frames).
    """
    lips = list(LIPS)
    closed = np.full((len(ok), len(lips), 2), np.nan, dtype=np.float32)
    for i, face in pages.rows(points, np.flatnonzero(ok)):
        frame = HeadFrame.from_points(face)
        canon = frame.to_canonical(face)
        closed[i] = (canon - articulation(canon, inner_gap(face, frame), 0.0))[lips]
    centre = closed.mean(axis=1, dtype=np.float64)
    expression = np.zeros_like(closed)
    if not ok.any():
        return RestLips(np.zeros((len(lips), 2)), centre, expression)
    shape = np.nanmedian(closed[ok] - centre[ok][:, None, :], axis=0)
    flags = np.concatenate(([False], ok, [False]))
    edges = np.flatnonzero(flags[1:] != flags[:-1])
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        # In float32 and in place: these arrays hold 80 numbers a frame, an hour 35 MB each.
        held = closed[start:stop] - shape.astype(np.float32)
        held -= centre[start:stop][:, None, :]
        gaussian_filter1d(held, EXPRESSION_SECONDS * frame_rate, axis=0, mode="nearest",
                          output=expression[start:stop])
        centre[start:stop] = gaussian_filter1d(centre[start:stop], smoothing_frames, axis=0, mode="nearest")
    return RestLips(shape, centre, expression)
