"""The person's own closed lips, for lite frames that shut a mouth the input shows open.

Lite closes a mouth by warping the frame's own lips together. That is right for a mouth that was
half open, but a source frame that is wide open (a shout, a laugh, the tongue out) has teeth and
tongue between its lips, and squeezing them shut leaves a strip of teeth on the lip line and the
tongue stretched into a swollen lower lip: seen at 4x on woman_hairbun_closeup, re-rendered from
silence, and in the judges' figures as the old speech still moving the closed mouth. Standard and
pro do not show it: they paste a closed mouth of the person's own.

So while the tracker passes over the clip, :class:`ClosedLipsCollector` keeps the person's closed
mouths whose lips have their usual colour (crops in the canonical head frame, as the open interior
does), and one becomes the clip's :class:`ClosedLips`. Where a frame's target is closed and its
source is open, that mouth is placed on the target's mouth corners and laid over the lips and over
where the source's lips were, more of it the further the source had to close. One sample for
the clip, so the lips do not change texture between frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d, maximum_filter1d

from openlipsync.engine import mouth_shape as ms
from openlipsync.engine.composite import COLOUR_BLUR, colour_matched, distance_outside
from openlipsync.engine.exemplars import LIP_COLOUR_TOLERANCE, cut, lip_colour, opening, sharpness
from openlipsync.engine.face_track import LIPS_OUTER
from openlipsync.engine.spill import Parked, Spill

#: Crops are cut at the face's own size up to this many pixels per inter-ocular unit: the lips are
#: in plain view, so they are kept sharper than the interior (12 crops of at most 460x576 px).
_MAX_PPU = 400.0
#: Closed mouths kept while the tracker passes: those whose lips are nearest the usual colour. The
#: most closed mouth is often a press, and pressed lips roll in and pale: on woman_flags it showed
#: a lipless mouth. Lip colour is sampled on every _SAMPLE_EVERY-th face at _COLOUR_PPU.
_CANDIDATES = 12
_SAMPLE_EVERY = 5
_COLOUR_PPU = 40.0
#: Inner lips further apart than this (inter-ocular units, ``exemplars.opening``) are not a closed
#: mouth; the mesh seldom brings them nearer than 0.02 (the shared clips' 5th percentile: 0-0.026).
_CLOSED = 0.035
#: Candidates within this of the most closed one compete on sharpness.
_AS_CLOSED = 0.01
#: |nose tip x| in canonical units above which a face is too turned to lend its lips.
_MAX_TURN = 0.25
_NOSE_TIP = 1
#: How much the sample may be stretched or squeezed across to meet the target's corners.
_STRETCH = 0.15
#: The blend: the target's outer lips grown by _GROW, feathered by _SOFT (inter-ocular units).
_GROW, _SOFT = 0.03, 0.015
#: ... and where the source frame's own lips were, grown by _SOURCE_GROW. The warp moves the lips
#: the mesh found; on a wide smile or a tongue out the mesh's contour falls short of the real
#: mouth (woman_hairbun_closeup, frames 300-325 under a closed target: the dark of her mouth
#: corner lies just outside it), and what it left out stayed where it was, a dark spot beside the
#: closed lips, or was squeezed into a second lower lip under them (man_kitchen_portrait_hevc).
_SOURCE_GROW = 0.05
#: The skin ring the sample's light is matched on: this far outside both mouths' outer lips, where
#: the two show the same hue (_SKIN_CHROMA apart at most, in r and g over r + g + b). A mouth
#: squeezed shut from wide open leaves its lips and tongue smeared into the ring, and matched
#: on them the sample's lips came out darker and redder than hers (woman_hairbun_closeup).
_RING = (0.03, 0.15)
_SKIN_CHROMA = 0.02
#: The sample replaces the warped lips where the source opens more than _OPEN_SOURCE past the
#: target, and within _HOLD frames of such a frame (see ``shares``); none for a target open past
#: _OPEN_TO, fading from _OPEN_FROM.
_OPEN_SOURCE = 0.04
_HOLD = 4
_OPEN_FROM, _OPEN_TO = 0.03, 0.07


def shares(source_gaps: np.ndarray, target_gaps: np.ndarray) -> np.ndarray:
    """Share of the sample laid over each output frame's lips, from the inner gap of the source
    frame it shows (NaN without a face) and of its target.

    Whether the source had to close is a yes or no, held over a few frames and eased in and out.
    A share that followed how far the source was open would pass the old speech on: under a
    closed target the lips would change from frame to frame as the old mouth opened and shut
    (rendered from silence, man_address_fr's closed mouth followed his real one more than before),
    and flicker between the sample's lips and the squeezed ones.
    """
    source_gaps = np.nan_to_num(np.asarray(source_gaps, np.float64), nan=0.0)
    target_gaps = np.asarray(target_gaps, np.float64)
    if not len(target_gaps):
        return np.zeros(0)
    held = maximum_filter1d((source_gaps - target_gaps > _OPEN_SOURCE).astype(np.float64), 2 * _HOLD + 1)
    # The filter's sum of weights may come out a hair over 1 (1.0000000000000002).
    closing = np.minimum(np.maximum(held, gaussian_filter1d(held, _HOLD / 2)), 1.0)
    closed = np.clip((_OPEN_TO - target_gaps) / (_OPEN_TO - _OPEN_FROM), 0.0, 1.0)
    return closing * closed


@dataclass(frozen=True)
class ClosedLips:
    """One closed mouth of the clip: its crop and its landmarks in crop pixels."""

    crop: np.ndarray  # uint8 RGB, the exemplars.cut window at ``ppu``
    ppu: float
    points: np.ndarray  # (468, 2) landmarks in crop pixels

    def paint(self, patch: np.ndarray, target: np.ndarray, box: tuple[int, int, int, int],
              frame: ms.HeadFrame, share: float, source: np.ndarray) -> None:
        """Lay the sample over ``target``'s lips in ``patch`` (float RGB over ``box``), in place,
        ``share`` of the way, and over where the lips of the frame's own landmarks ``source`` were
        (``_SOURCE_GROW``)."""
        outer = target[list(LIPS_OUTER)]
        was = source[list(LIPS_OUTER)]
        both_lips = np.vstack([outer, was])
        reach = (_RING[1] + COLOUR_BLUR) * frame.scale + 2
        x0, y0 = np.maximum(np.floor(both_lips.min(axis=0) - reach).astype(int) - (box[0], box[1]), 0)
        x1, y1 = np.ceil(both_lips.max(axis=0) + reach).astype(int) + 1 - (box[0], box[1])
        sub = patch[y0:y1, x0:x1]
        h, w = sub.shape[:2]
        if h < 2 or w < 2:
            return
        offset = np.array([box[0] + x0, box[1] + y0], np.float64)
        # The sample keeps its own shape: placed on the target's mouth corners, scaled with the
        # head, and stretched across only as far as the target's corners are further apart.
        # Fitting it to the target's contours instead made her lips a fifth fuller than they are:
        # the clip's rest shape is an estimate, the sample is what her closed lips look like.
        canon = frame.to_canonical(target[list(ms.CORNERS)].astype(np.float64))
        own = self.points[list(ms.CORNERS)].astype(np.float64)
        across = np.linalg.norm(canon[1] - canon[0]) * self.ppu / max(np.linalg.norm(own[1] - own[0]), 1e-6)
        stretch = np.clip(across, 1 - _STRETCH, 1 + _STRETCH)
        scale = np.diag([self.ppu / stretch, self.ppu])
        to_canon = frame.axes / frame.scale
        to_crop = scale @ to_canon
        shift = scale @ (to_canon @ (offset - frame.origin) - canon.mean(axis=0)) + own.mean(axis=0)
        lips = cv2.warpAffine(self.crop, np.hstack([to_crop, shift[:, None]]), (w, h),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        # Its light matched to this frame's on the skin around both mouths (``composite.
        # colour_matched``): a gain from the whole cheeks left the sample's skin next to its lips
        # paler than this frame's, a pale rim around the lips wherever the frame's own lips were
        # fuller (woman_indoor in lite against new speech: lips off their usual colour on 4% of
        # frames, 1% in the input).
        # The inverse of ``to_crop`` in closed form (the head frame's axes are orthonormal): LAPACK's
        # 2x2 inverse woke OpenBLAS's thread pool on every closed frame, and its threads' spinning
        # cost lite 2.5-3.4 of its ~15 CPU seconds on the 720x1280 selfie.
        from_crop = frame.scale * frame.axes.T @ np.diag([stretch / self.ppu, 1.0 / self.ppu])
        placed = (self.points[list(LIPS_OUTER)].astype(np.float64) - shift) @ from_crop.T
        target_lips = distance_outside(outer, offset, (h, w))
        both = np.minimum(target_lips, distance_outside(placed, (0.0, 0.0), (h, w)))
        ring = (both > _RING[0] * frame.scale) & (both < _RING[1] * frame.scale)
        lips = lips.astype(np.float32)
        skin = np.zeros((h, w), np.float32)
        skin[ring] = _chroma_distance(lips[ring], sub[ring]) < _SKIN_CHROMA
        lips = colour_matched(lips, sub, skin, frame.scale)
        mask = (target_lips <= max(frame.scale * _GROW, 1.0)).astype(np.float32)
        mask[distance_outside(was, offset, (h, w)) <= frame.scale * _SOURCE_GROW] = 1.0
        mask = cv2.GaussianBlur(mask, (0, 0), max(frame.scale * _SOFT, 0.5)) * np.float32(share)
        sub += mask[..., None] * (np.clip(lips, 0, 255) - sub)


def _chroma_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pixel, how far apart the chromaticities (r, g over r + g + b) of two float RGB images
    (or (n, 3) pixels) lie. Light scales all three channels; lips, tongue and teeth change their
    proportions."""
    def chroma(x: np.ndarray) -> np.ndarray:
        return x[..., :2] / (x.sum(axis=-1, keepdims=True) + 1.0)
    return np.linalg.norm(chroma(a) - chroma(b), axis=-1)


@dataclass
class _Candidate:
    gap: float  # ``exemplars.opening``: lower is more closed
    colour: np.ndarray  # CIELAB of the lips
    crop: Parked
    ppu: float
    points: np.ndarray


class ClosedLipsCollector:
    """Watches the tracking pass (``observe`` per frame): the colour of the person's lips in every
    few frames, and the closed mouths whose lips look most like that."""

    def __init__(self) -> None:
        self._kept: list[_Candidate] = []
        self._colours: list[np.ndarray] = []  # lip colour of every _SAMPLE_EVERY-th face
        # Their median, computed again only after a new sample: not restacked for a median twice
        # on every closed frame, at a cost that grew with the clip (3600 samples at 10 minutes).
        self._median: np.ndarray | None = None
        self._faces = 0

    def observe(self, image: np.ndarray, points: np.ndarray | None) -> None:
        """One tracked frame: its landmarks, or None where it had no usable face."""
        if points is None:
            return
        points, frame, canon = ms.in_head_frame(points)
        gap = opening(canon)
        closed = gap <= _CLOSED and abs(float(canon[_NOSE_TIP, 0])) <= _MAX_TURN
        sample = self._faces % _SAMPLE_EVERY == 0
        self._faces += 1
        if not (closed or sample):
            return
        colour = lip_colour(*cut(image, points, _COLOUR_PPU))
        if sample and np.isfinite(colour).all():
            self._colours.append(colour)
            self._median = None
        if not closed or not np.isfinite(colour).all():
            return
        if len(self._kept) >= _CANDIDATES:
            typical = self._typical()
            if _distance(colour, typical) >= max(_distance(c.colour, typical) for c in self._kept):
                return
        ppu = float(min(frame.scale, _MAX_PPU))
        crop, crop_points = cut(image, points, ppu)
        candidate = _Candidate(gap, colour, Parked(crop), ppu, crop_points)
        self._keep([*self._kept, candidate])

    def park(self, spill: Spill) -> None:
        """The run ended: its candidates' crops go to ``spill`` until a result is asked for."""
        for candidate in self._kept:
            candidate.crop.park(spill)

    def _typical(self) -> np.ndarray:
        """The person's usual lip colour: the median of the sampled faces (of the candidates, before any)."""
        if not self._colours:
            return np.median(np.stack([c.colour for c in self._kept]), axis=0)
        if self._median is None:
            self._median = np.median(np.stack(self._colours), axis=0)
        return self._median

    def _keep(self, candidates: list[_Candidate]) -> None:
        """The _CANDIDATES of ``candidates`` whose lips are nearest the usual colour."""
        if len(candidates) > _CANDIDATES:
            typical = self._typical()
            candidates = sorted(candidates, key=lambda c: _distance(c.colour, typical))[:_CANDIDATES]
        self._kept = candidates

    @classmethod
    def merged(cls, collectors: list[ClosedLipsCollector]) -> ClosedLipsCollector:
        """One collector over several (one person's face runs)."""
        merged = cls()
        merged._colours = [c for each in collectors for c in each._colours]
        merged._keep([c for each in collectors for c in each._kept])
        return merged

    def result(self) -> ClosedLips | None:
        """A closed mouth whose lips look like the person's usual ones (within
        ``exemplars.LIP_COLOUR_TOLERANCE``, else the nearest few): the sharpest of those nearly as
        closed as the most closed of them. None when the clip never closed its mouth."""
        if not self._kept:
            return None
        typical = self._typical()
        by_colour = sorted(self._kept, key=lambda c: _distance(c.colour, typical))
        usual = [c for c in by_colour if _distance(c.colour, typical) <= LIP_COLOUR_TOLERANCE]
        usual = usual or by_colour[:3]
        most = min(c.gap for c in usual)
        best = max((c for c in usual if c.gap <= most + _AS_CLOSED), key=_sharpness)
        return ClosedLips(best.crop.get(), best.ppu, best.points)


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def _sharpness(candidate: _Candidate) -> float:
    """How sharp the lips are (``exemplars.sharpness`` inside the outer lips)."""
    return sharpness(candidate.crop.get(), candidate.points[list(LIPS_OUTER)])
