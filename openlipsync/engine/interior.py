"""The inside of the mouth, taken from the person's own frames: their teeth, tongue and shading.

Lite moves the frame's own lips; where the new speech opens the mouth, what shows between them
must come from somewhere. A painted cavity with a bar of teeth read as a cartoon next to the real
frames. Every talking clip shows its speaker's open mouth somewhere, so while the tracker passes
over the clip, :class:`InteriorCollector` keeps the widest, sharpest, most frontal open mouths
(a handful of small crops in the canonical head frame, no frames held), and one of them becomes
the clip's :class:`MouthInterior`.

Each frame's interior is that one mouth fitted to the frame's inner-lip contour. The teeth are
fixed to the jaws, so the upper part of the interior moves with the upper lip and the lower part
with the lower lip, unstretched: a mouth opening less than the sample hides the middle of it (the
dark back of the mouth) rather than squashing the teeth; one opening wider stretches only that
middle. Closing, the lower lip rises over the lower teeth before the upper lip reaches the upper
ones, so the narrower the opening, the more of it is the upper lip's side: 45% at the sample's
own opening, all of a closed one. (Split 45/55 at every opening, a narrow mouth showed both rows
of teeth clenched into a slit, and selfcheck took the lower row for lip.) One sample for the whole
clip keeps the teeth from flickering between frames. A clip that never opens its mouth has no
interior to give; lite paints one then.

How bright the inside of a mouth looks depends on how far it is open: little light reaches
teeth behind barely parted lips. The sample is the clip's widest mouth, so shown between lips
barely apart its teeth were far brighter than the person's own: a white band where his own mouth
showed grey teeth in shadow (man_kitchen_portrait_hevc: 0.78 of the cheeks' brightness against
his own 0.43 at gaps under 0.07, docs/benchmarks.md's ``mouth-light``). So the collector also
learns, from every frontal frame with parted lips, how bright this person's opening is at each
gap (:class:`Shading`), and the sample is darkened to that. Only darkened: between lips barely
apart the tracked inner contour holds mostly the lips' own inner edges, so what is learnt there
can be lip, not mouth; a man whose mouth hardly opens (man_bedroom_selfie) had his dark gap
brightened 1.7 times into an orange streak.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import cv2
import numpy as np

from openlipsync.engine import mouth_shape as ms
from openlipsync.engine.composite import filled
from openlipsync.engine.exemplars import cut, sharpness
from openlipsync.engine.spill import Parked, Spill

#: Crops are cut at the face's own size up to this many pixels per inter-ocular unit.
_MAX_PPU = 160.0
#: Candidates kept while the tracker passes (the widest openings so far).
_CANDIDATES = 12
#: A clip whose widest usable opening is below this (inter-ocular units) has no interior to show.
_MIN_GAP = 0.09
#: Candidates at least this share of the widest opening compete on sharpness.
_WIDE_SHARE = 0.75
#: |nose tip x| in canonical units above which a face is too turned to lend its mouth (talking clips
#: sit at 0.05-0.15 most of the time; 0.3 is a face in three-quarter view).
_MAX_TURN = 0.25
#: Share of the target's opening that belongs to the upper lip's side of the interior, where the
#: target opens as far as the sample; a narrower one gives it more (``MouthInterior._source``).
_UPPER_SHARE = 0.45
#: Width (canonical units) over which the two sides meet.
_SPLIT_BLEND = 0.015
#: Brightness of the interior where the target's lips are barely parted, against where they part
#: as wide as the sample's (1): the lips shade the teeth of a narrow mouth, and towards the corners.
#: Where the person's own light at the target's gap is known (``Shading``), the whole interior is
#: then scaled to it, and this only shapes the light across the opening.
_DIM = 0.8
_CHEEKS = (205, 425)
_NOSE_TIP = 1
#: Inner-lip gaps (inter-ocular units) binning what the collector learns of the opening's light.
_SHADE_EDGES = np.array([0.03, 0.05, 0.07, 0.09, 0.12, 0.15, 0.2, 0.25, 0.3, 0.4])
#: Frames a bin needs before its brightness is trusted.
_SHADE_FRAMES = 5
#: How far the learnt light may darken the sample's own (a ratio): a bin of odd frames (a hand
#: before the mouth) must not turn the teeth black.
_SHADE_LIMIT = 2.0
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # cv2's RGB2GRAY weights


def _cheek_patches(image: np.ndarray, points: np.ndarray) -> list[np.ndarray]:
    """The 5x5 pixels around each cheek landmark of ``_CHEEKS`` (fewer at the frame's edge)."""
    h, w = image.shape[:2]
    patches = []
    for i in _CHEEKS:
        x, y = np.clip(np.round(points[i]).astype(int), 0, (w - 1, h - 1))
        patches.append(image[max(y - 2, 0): y + 3, max(x - 2, 0): x + 3])
    return patches


def lightness(image: np.ndarray, points: np.ndarray) -> float:
    """Mean brightness of the cheeks: how lit the face is, to carry an interior between frames."""
    return float(max(np.mean([patch.mean() for patch in _cheek_patches(image, points)]), 1.0))


def _opening_light(image: np.ndarray, points: np.ndarray) -> float | None:
    """Mean brightness (luma) between the inner lips; None when the opening covers too few pixels
    to say."""
    contour = ms.inner_contour(points)
    h, w = image.shape[:2]
    x0, y0 = np.clip(np.floor(contour.min(axis=0)).astype(int), 0, (w, h))
    x1, y1 = np.clip(np.ceil(contour.max(axis=0)).astype(int) + 1, 0, (w, h))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    mask = filled((y1 - y0, x1 - x0), contour - (x0, y0))
    weight = float(mask.sum())
    if weight < 4.0:
        return None
    luma = image[y0:y1, x0:x1].astype(np.float32) @ _LUMA
    return float((luma * mask).sum()) / weight


@dataclass
class Shading:
    """How bright one person's opening is at each inner-lip gap, over their cheeks' brightness:
    per bin of ``_SHADE_EDGES``, the frames seen, the sum of their gaps and of their brightness.
    A fixed size whatever the clip's length."""

    sums: np.ndarray = field(default_factory=lambda: np.zeros((len(_SHADE_EDGES) - 1, 3)))

    def add(self, gap: float, light: float) -> None:
        k = int(np.searchsorted(_SHADE_EDGES, gap, side="right")) - 1
        if 0 <= k < len(self.sums):
            self.sums[k] += (1.0, gap, min(light, 2.0))

    def at(self, gap: float) -> float | None:
        """The brightness this person's opening shows at ``gap`` (interpolated between the bins
        seen often enough, the nearest beyond them), None without such a bin."""
        seen = self.sums[:, 0] >= _SHADE_FRAMES
        if not seen.any():
            return None
        count, gaps, lights = self.sums[seen].T
        return float(np.interp(gap, gaps / count, lights / count))


def _curves(canon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower inner-lip curves (corner to corner) relative to the corners' midpoint."""
    corner = canon[list(ms.CORNERS)].mean(axis=0)
    return canon[list(ms.INNER_UPPER)] - corner, canon[list(ms.INNER_LOWER)] - corner


def _at(curve: np.ndarray, x: np.ndarray) -> np.ndarray:
    order = np.argsort(curve[:, 0])
    return np.interp(x, curve[order, 0], curve[order, 1])


@dataclass(frozen=True)
class MouthInterior:
    """One open mouth of the clip: its crop and inner-lip curves in mouth coordinates."""

    crop: np.ndarray  # uint8 RGB, the exemplars.cut window at ``ppu``
    ppu: float
    origin: np.ndarray  # crop pixel (x, y) of the corners' midpoint
    upper: np.ndarray  # (11, 2) inner upper lip in canonical units from the corners' midpoint
    lower: np.ndarray  # (11, 2) inner lower lip
    light: float  # cheek brightness of its frame
    gap: float
    shading: Shading = field(default_factory=Shading)

    def paint(self, patch: np.ndarray, target: np.ndarray, box: tuple[int, int, int, int],
              frame: ms.HeadFrame, light: float) -> None:
        """Fill the inside of ``target``'s inner lips in ``patch`` (float RGB over ``box``), in place."""
        upper_t, lower_t = _curves(frame.to_canonical(target))
        corner = frame.to_canonical(target[list(ms.CORNERS)]).mean(axis=0)
        contour = frame.to_image(np.vstack([upper_t, lower_t[::-1]]) + corner)
        pad = int(np.ceil(frame.scale * 0.02)) + 2
        x0, y0 = np.maximum(np.floor(contour.min(axis=0)).astype(int) - pad - (box[0], box[1]), 0)
        x1, y1 = np.ceil(contour.max(axis=0)).astype(int) + pad - (box[0], box[1])
        sub = patch[y0:y1, x0:x1]
        h, w = sub.shape[:2]
        if h < 2 or w < 2:
            return
        offset = np.array([box[0] + x0, box[1] + y0], np.float64)
        mask = cv2.GaussianBlur(filled((h, w), contour - offset), (0, 0), max(frame.scale * 0.008, 0.5))
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
        pix = np.stack([xs + offset[0], ys + offset[1]], -1).reshape(-1, 2)
        mouth = frame.to_canonical(pix) - corner
        x, y_upper, y_lower, lower_share, shade = self._source(mouth, upper_t, lower_t)

        def sample(y: np.ndarray) -> np.ndarray:
            crop_x = (x * self.ppu + self.origin[0]).astype(np.float32).reshape(h, w)
            crop_y = (y * self.ppu + self.origin[1]).astype(np.float32).reshape(h, w)
            return cv2.remap(self.crop, crop_x, crop_y, cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE).astype(np.float32)

        upper, lower = sample(y_upper), sample(y_lower)
        inside = upper + lower_share.reshape(h, w, 1) * (lower - upper)
        inside *= shade.reshape(h, w, 1)
        inside *= self._gain(inside, mask, ms.inner_gap(target, frame), light)
        sub += mask[..., None] * (np.clip(inside, 0, 255) - sub)

    def _gain(self, inside: np.ndarray, mask: np.ndarray, gap: float, light: float) -> float:
        """What ``inside`` (the sample fitted to a target of inner gap ``gap``, under ``mask``) is
        multiplied by: lit as the sample's frame was, relative to the cheeks (brightness ``light``
        in this frame), or darker, as dark as this person's own opening at that gap where enough
        of their frames say (see the module's docstring)."""
        relative = float(np.clip(light / self.light, 0.5, 1.6))
        wanted = self.shading.at(gap)
        weight = float(mask.sum())
        if wanted is None or weight < 4.0:
            return relative
        shown = float(((inside @ _LUMA) * mask).sum()) / weight
        if shown < 1.0:
            return relative
        return float(np.clip(wanted * light / shown, relative / _SHADE_LIMIT, relative))

    def _source(self, mouth: np.ndarray, upper_t: np.ndarray, lower_t: np.ndarray) -> tuple[np.ndarray, ...]:
        """Where each target point (mouth coordinates) is found in the sample: x in proportion to
        the corners, y at the same distance from the upper lip and from the lower lip, how much of
        the lower lip's side it takes (0 above the split, 1 below, blended across it: a hard
        switch drew a jagged line through the teeth where a narrower mouth hides the sample's
        middle), and how much darker it is: less light reaches into a narrower opening."""
        left_t, right_t = upper_t[0, 0], upper_t[-1, 0]
        left_s, right_s = self.upper[0, 0], self.upper[-1, 0]
        x = left_s + (mouth[:, 0] - left_t) * (right_s - left_s) / max(right_t - left_t, 1e-6)
        top_t, bottom_t = _at(upper_t, mouth[:, 0]), _at(lower_t, mouth[:, 0])
        top_s, bottom_s = _at(self.upper, x), _at(self.lower, x)
        gap_t, gap_s = np.maximum(bottom_t - top_t, 0.0), np.maximum(bottom_s - top_s, 0.0)
        lower_share_t = (1 - _UPPER_SHARE) * np.clip(gap_t / np.maximum(gap_s, 1e-6), 0.0, 1.0)
        split_t = top_t + gap_t * (1 - lower_share_t)
        from_top = mouth[:, 1] - top_t
        from_bottom = bottom_t - mouth[:, 1]
        # Each lip's own side, unstretched, as far as the sample has it; the middle stretched.
        y_upper = top_s + np.minimum(from_top, _UPPER_SHARE * gap_s)
        y_lower = bottom_s - np.minimum(from_bottom, (1 - _UPPER_SHARE) * gap_s)
        lower_share = np.clip((mouth[:, 1] - split_t) / _SPLIT_BLEND + 0.5, 0.0, 1.0)
        shade = _DIM + (1.0 - _DIM) * np.clip(gap_t / np.maximum(gap_s, 1e-6), 0.0, 1.0)
        return x, y_upper, y_lower, lower_share, shade


@dataclass(order=True)
class _Candidate:
    gap: float
    crop: Parked = field(compare=False)
    ppu: float = field(compare=False)
    origin: np.ndarray = field(compare=False)
    upper: np.ndarray = field(compare=False)
    lower: np.ndarray = field(compare=False)
    light: float = field(compare=False)


class InteriorCollector:
    """Watches the tracking pass (``observe`` per frame) and keeps the clip's widest open mouths."""

    def __init__(self) -> None:
        self._heap: list[_Candidate] = []
        self._shading = Shading()

    def observe(self, image: np.ndarray, points: np.ndarray | None) -> None:
        """One tracked frame: its landmarks, or None where it had no usable face."""
        if points is None:
            return
        points, frame, canon = ms.in_head_frame(points)
        gap = ms.inner_gap(points, frame)
        if gap < _SHADE_EDGES[0] or abs(canon[_NOSE_TIP, 0]) > _MAX_TURN:
            return
        cheeks = lightness(image, points)
        opening = _opening_light(image, points)
        if opening is not None:
            self._shading.add(gap, opening / cheeks)
        if gap < _MIN_GAP:
            return
        if len(self._heap) >= _CANDIDATES and gap <= self._heap[0].gap:
            return
        ppu = float(min(frame.scale, _MAX_PPU))
        crop, crop_points = cut(image, points, ppu)
        upper, lower = _curves(canon)
        origin = crop_points[list(ms.CORNERS)].mean(axis=0).astype(np.float64)
        candidate = _Candidate(gap, Parked(crop), ppu, origin, upper, lower, cheeks)
        if len(self._heap) >= _CANDIDATES:
            heapq.heapreplace(self._heap, candidate)
        else:
            heapq.heappush(self._heap, candidate)

    @classmethod
    def merged(cls, collectors: list[InteriorCollector]) -> InteriorCollector:
        """One collector holding the widest mouths of several (one person's face runs)."""
        merged = cls()
        merged._heap = heapq.nlargest(_CANDIDATES, (c for each in collectors for c in each._heap))
        heapq.heapify(merged._heap)
        merged._shading = Shading(sum((each._shading.sums for each in collectors), Shading().sums))
        return merged

    def park(self, spill: Spill) -> None:
        """The run ended: its candidates' crops go to ``spill`` until a result is asked for."""
        for candidate in self._heap:
            candidate.crop.park(spill)

    def result(self) -> MouthInterior | None:
        """The sharpest of the widest mouths seen, or None when the clip never opened its mouth."""
        if not self._heap:
            return None
        widest = max(c.gap for c in self._heap)
        wide = [c for c in self._heap if c.gap >= _WIDE_SHARE * widest]
        best = max(wide, key=_sharpness)
        return MouthInterior(best.crop.get(), best.ppu, best.origin, best.upper, best.lower, best.light,
                             best.gap, self._shading)


def _sharpness(candidate: _Candidate) -> float:
    """How sharp the opening is (``exemplars.sharpness`` between the inner lips)."""
    opening = np.vstack([candidate.upper, candidate.lower[::-1]]) * candidate.ppu + candidate.origin
    return sharpness(candidate.crop.get(), opening)
