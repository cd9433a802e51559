"""`lite` mode: move the frame's own lips and jaw to the target shape and fill the inner mouth.

Geometric and fast: a thin-plate warp of the lower face takes the source's opening out and the
target's in (mouth_shape.retarget), so the old speech does not show through. The warp can only
stretch lip pixels, so what shows between the lips of an open target comes from the person's
own open mouth elsewhere in the clip (``interior``): their teeth, tongue and shading, fitted to
the target's lips in every open frame, so the teeth do not change from frame to frame. Only a
clip that never opens its mouth gets a painted one (``cavity``): both rows of teeth, a tongue and
a shaded cavity, lit like the face around it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d, maximum_filter1d

from openlipsync.engine import mouth_shape as ms
from openlipsync.engine import pages
from openlipsync.engine.cavity import paint_cavity
from openlipsync.engine.closed_lips import ClosedLips, shares
from openlipsync.engine.composite import OUTER_REACH, filled, outer_alpha
from openlipsync.engine.face_track import LandmarkTrack
from openlipsync.engine.interior import MouthInterior, lightness
from openlipsync.engine.speech import MouthTargets
from openlipsync.engine.warp import displacement, grid_step, remap

#: A source opening shows teeth when the band next to a lip is this much brighter than the lip
#: (teeth are pale, the inside of a mouth dark); below _TEETH_MIN_GAP there is nothing to see.
_TEETH_CONTRAST = 1.2
_TEETH_MIN_GAP = 0.03
#: How far outside the jaw the warp is pinned to zero (inter-ocular units).
_PIN_MARGIN = 0.35
#: Share of each lip's thickness the new lip line is sampled inside the lip when a mouth closes fully
#: over teeth.
_SEAM_INSET = 0.3
#: A source mouth open less than this (inter-ocular units) is closed, and its lips are still while
#: no lip point moves more than _STILL_LIPS between frames: a closed target then leaves it be.
_CLOSED_GAP = 0.04
_STILL_LIPS = 0.012
#: Frames over which the warp fades in and out around frames left untouched; below _UNTOUCHED it is off.
_RAMP_FRAMES = 2
_UNTOUCHED = 0.01


@dataclass(frozen=True)
class MouthPose:
    """One frame's mouth target: inner-lip gap (inter-ocular units) and width (-1 round..+1 spread)."""

    gap: float
    width: float


class LiteRenderer:
    """Renders output frame k of a clip: the speech target for k applied to that frame's face."""

    def __init__(self, track: LandmarkTrack, targets: MouthTargets, source: np.ndarray | None = None,
                 interior: MouthInterior | None = None, closed: ClosedLips | None = None, *,
                 frame_rate: float) -> None:
        source_gaps = np.full(len(track.ok), np.nan)
        for i, points in pages.rows(track.points, np.flatnonzero(track.ok)):
            source_gaps[i] = ms.inner_gap(points)
        sample = np.flatnonzero(track.ok)[:: max(int(track.ok.sum()) // 400, 1)]
        max_gap = ms.typical_max_gap(source_gaps[sample])
        gaps = np.where(targets.closed, 0.0, targets.open * max_gap)
        self.poses = [MouthPose(float(g), float(w)) for g, w in zip(gaps, targets.width, strict=True)]
        #: Input frame shown by each output frame (loops repeat the clip).
        self.source = np.arange(len(self.poses)) if source is None else source
        self.rest = ms.rest_lips(track.points, track.ok, frame_rate)
        self.amount = _amounts(track, source_gaps, self.source, gaps, targets.width)
        self.interior = interior
        self.closed = closed
        #: How much of ``closed`` each output frame lays over its lips.
        self.closed_share = self.amount * shares(source_gaps[self.source], gaps)
        self.notes: list[str] = []

    def render(self, image: np.ndarray, points: np.ndarray, k: int):
        """(patch, box, alpha) for composite.paste, or None where the frame is right as it is."""
        if self.amount[k] < _UNTOUCHED:
            return None
        closed = (self.closed, float(self.closed_share[k])) if self.closed is not None else None
        return render_mouth(image, points, self.poses[k], self.rest.at(int(self.source[k])),
                            float(self.amount[k]), self.interior, closed)


def _amounts(track: LandmarkTrack, source_gaps: np.ndarray, source: np.ndarray, gaps: np.ndarray,
             widths: np.ndarray) -> np.ndarray:
    """How far each output frame's mouth moves towards its target: 0 leaves the frame untouched.

    A frame whose target is a closed mouth at rest, over source lips that are closed and still,
    needs nothing: warping it would only resample (soften) the lips and add the tracker's wobble
    to a mouth that should be still. Such frames keep the input's pixels. Closed lips that move
    (a murmur, a press, the old speech with the mouth shut) are re-rendered, or the old speech
    would show through. The amount ramps over a few frames into and out of untouched frames, so
    the lips do not jump between their own closed shape and the speaker's rest shape.
    """
    n = len(track.ok)
    still = np.zeros(n, bool)
    frames = np.flatnonzero(track.ok)
    if len(frames):
        lips = list(ms.LIPS)
        canon = np.full((n, len(lips), 2), np.nan)
        for i, points in pages.rows(track.points, frames):
            canon[i] = ms.HeadFrame.from_points(points).to_canonical(points[lips])
        # Movement into each frame from the one before (none before the first); no face is motion.
        step = np.zeros(n + 1)
        step[1:n] = np.nan_to_num(np.abs(np.diff(canon, axis=0)).max(axis=(1, 2)), nan=np.inf)
        motion = maximum_filter1d(np.maximum(step[:-1], step[1:]), 2 * _RAMP_FRAMES + 1)
        still = (np.nan_to_num(source_gaps, nan=np.inf) < _CLOSED_GAP) & (motion < _STILL_LIPS)
    needed = ((gaps > 0) | (widths != 0) | ~still[source]).astype(np.float64)
    if not len(needed):
        return needed
    ramp = gaussian_filter1d(maximum_filter1d(needed, 2 * _RAMP_FRAMES + 1), _RAMP_FRAMES / 2)
    return np.minimum(np.maximum(ramp, needed), 1.0)  # the filter may round a hair over 1


def _region(points: np.ndarray, target: np.ndarray, frame: ms.HeadFrame, shape: tuple[int, ...]):
    """Pinned anchors around the lower face, and the box the blend mask can reach.

    The spline is pinned further out than the mask reaches, so it is already flat where the
    mask fades; pixels between the two would be computed only to be thrown away.
    """
    jaw = points[list(ms.JAW)]
    centre = points[list(ms.OUTER)].mean(axis=0)
    out = jaw - centre
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)
    ring = jaw + out * _PIN_MARGIN * frame.scale
    h, w = shape[:2]
    moving = list(ms.MOVING)
    reach = OUTER_REACH * frame.scale + 2
    touched = np.vstack([points[moving], target[moving]])
    x0, y0 = np.floor(touched.min(axis=0) - reach).astype(int)
    x1, y1 = np.ceil(touched.max(axis=0) + reach).astype(int) + 1
    box = (max(x0, 0), max(y0, 0), min(x1, w), min(y1, h))
    return ring, box


def _teeth_showing(image: np.ndarray, canon: np.ndarray, frame: ms.HeadFrame,
                   gap: float) -> tuple[bool, bool]:
    """Whether the source (landmarks ``canon`` in ``frame``) shows teeth under its upper lip and over
    its lower lip: its opening next to each lip is clearly brighter than the lower lip itself."""
    if gap < _TEETH_MIN_GAP:
        return False, False
    upper, lower = ms.teeth_contrast(image, canon, frame.to_image, gap)
    return upper > _TEETH_CONTRAST, lower > _TEETH_CONTRAST


def _lightness(image: np.ndarray, points: np.ndarray) -> float:
    """Cheek brightness relative to a well-lit face, so painted teeth are not brighter than skin."""
    return float(np.clip(lightness(image, points) / 170.0, 0.35, 1.15))


def _split_mask(target: np.ndarray, frame: ms.HeadFrame, box, shape: tuple[int, int]) -> np.ndarray:
    """1 above the target's lip line (the upper lip's side), 0 below it, anti-aliased.

    The line runs midway between the target's inner lips and on past the corners, so closing an
    open mouth takes the upper half from the upper lip and the lower half from the lower lip
    instead of folding one warp over the source's open cavity.
    """
    x0, y0 = box[0], box[1]
    up = frame.to_canonical(target[list(ms.INNER_UPPER)])
    lo = frame.to_canonical(target[list(ms.INNER_LOWER)])
    line = (up + lo) / 2
    far = 4.0
    above = np.vstack([[line[0] + (-far, 0)], line, [line[-1] + (far, 0)], [line[-1] + (far, -far)],
                       [line[0] + (-far, -far)]])
    return filled(shape, frame.to_image(above) - (x0, y0))


def _inset_lips(points: np.ndarray, amounts: tuple[float, float]) -> np.ndarray:
    """The frame's points with the upper and lower inner lip edges moved ``amounts`` of the way
    into their lips.

    A mouth that closes over teeth takes its new lip line from there rather than from the tracked
    edge, where the bilinear taps and a pixel of tracking error pick up the teeth: they showed as
    a pale line between closed lips, which a landmark model also reads as a parted mouth. (A dark
    opening squeezed shut is the natural crease between the lips, so it is left alone.)
    """
    if max(amounts) <= 0:
        return points
    out = points.copy()
    sides = ((ms.INNER_UPPER, ms.OUTER_UPPER), (ms.INNER_LOWER, ms.OUTER_LOWER))
    for amount, (inner, outer) in zip(amounts, sides, strict=True):
        edge, rim = list(inner[1:-1]), list(outer[1:-1])  # the corners stay where the lips meet
        out[edge] += amount * (points[rim] - points[edge])
    return out


def render_mouth(image: np.ndarray, points: np.ndarray, pose: MouthPose, lips: np.ndarray | None = None,
                 amount: float = 1.0, interior: MouthInterior | None = None,
                 closed: tuple[ClosedLips, float] | None = None):
    """The warped lower face for one frame: (patch, box, alpha) for the compositor.

    ``lips``: the speaker's rest lips for this frame (see mouth_shape.RestLips); default its own.
    ``amount``: how far the landmarks move from where they are to the target (1: all the way).
    ``interior``: the clip's own open mouth, shown between the lips wherever they part; without
    one, the part of the opening the source does not show is painted. ``closed``: the clip's own
    closed lips and how much of them to lay over the target's lips (``closed_lips``).

    ``patch`` is float32 RGB covering ``box``; ``alpha`` says how much of it replaces the input,
    zero at the box edges, so pixels outside the lower face are the input's own.
    """
    frame = ms.HeadFrame.from_points(points)
    source_gap = ms.inner_gap(points, frame)
    target = ms.retarget(points, pose.gap, pose.width, source_gap, lips)
    if amount < 1.0:
        target = points + amount * (target - points)
    ring, box = _region(points, target, frame, image.shape)
    pinned = np.vstack([points[list(ms.FIXED)], ring])
    closing = amount * float(np.clip((source_gap - pose.gap) / max(source_gap, 1e-6), 0.0, 1.0))
    opening = pose.gap > source_gap + 0.005
    # Only a closing or an opening mouth cares what the source shows between its lips.
    changing = closing > 0 or opening
    canon = frame.to_canonical(points) if changing else None
    teeth = _teeth_showing(image, canon, frame, source_gap) if canon is not None else (False, False)
    upper_inset, lower_inset = (_SEAM_INSET * closing * shown for shown in teeth)
    if canon is not None and source_gap >= _TEETH_MIN_GAP:
        # Teeth the mesh took for lower lip would ride on the moved lip as a white band: the lip
        # starts below them, and they are left to the opening (the interior paints over it).
        lower_inset = max(lower_inset, ms.teeth_in_lower_lip(image, canon, frame.to_image, _TEETH_CONTRAST))
    sources = _inset_lips(points, (upper_inset, lower_inset))
    fields = []
    for side in (ms.UPPER_SIDE, ms.LOWER_SIDE):
        idx = list(side)
        dst = np.vstack([target[idx], pinned]).astype(np.float64)
        src = np.vstack([sources[idx], pinned]).astype(np.float64)
        fields.append(displacement(dst, src, box, step=grid_step(frame.scale)))
    x0, y0, x1, y1 = box
    upper = _split_mask(target, frame, box, (y1 - y0, x1 - x0))[..., None]
    patch = remap(image, fields[1] + upper * (fields[0] - fields[1]), box)

    target_gap = ms.inner_gap(target, frame)
    if interior is not None and target_gap >= _TEETH_MIN_GAP:
        interior.paint(patch, target, box, frame, lightness(image, points))
    elif opening:
        kept = tuple(source_gap / 2 if shown else 0.0 for shown in teeth)
        paint_cavity(patch, target, box, frame, pose.gap, kept, _lightness(image, points))
    if closed is not None and closed[1] > 0:
        closed[0].paint(patch, target, box, frame, closed[1], points)

    moving = list(ms.MOVING)
    return patch, box, outer_alpha(np.vstack([target[moving], points[moving]]), box, frame.scale)
