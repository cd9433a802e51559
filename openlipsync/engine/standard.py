"""`standard` and `pro` modes: the chosen exemplar's real mouth, fitted into the current frame.

Per output frame (after selection chose an exemplar):

1. Place: the exemplar's landmarks are brought onto this face by the affine map that best fits
   its stable points (eye corners, nose base, cheeks) to this frame's, which absorbs small
   differences in head pitch and yaw on top of the canonical alignment; a small articulation
   (``nudged``) then closes what is left between its opening and the target's. Its lips land
   there; this frame's own chin and jaw line follow the new opening (``destination``). The shape
   is then moved halfway to the speech stage's own target shape for the frame (``Style.follow``).
2. Jaw: the frame itself is warped (thin-plate, pinned outside the jaw) so its lips and jaw line
   take the destination shape. The chin's outline against the neck and background stays this
   frame's own pixels, only moved.
3. Mouth: the exemplar crop is warped onto the destination shape and laid over the mouth and the
   skin just around it, with a feathered mask.
4. Colour: the ratio of the two layers over a ring of skin around the lips, spread smoothly over
   the mouth (``composite.colour_matched``), scales the exemplar: a low-frequency correction that
   matches lighting without touching the teeth's detail. The lips then get the colour of this
   frame's own lips, within a just noticeable difference (``_lip_tone_matched``): lighting matched
   on the skin leaves a pressed or licked exemplar's lips darker or paler than the person's.

Frames the selection gave to lite are rendered by lite's own renderer, exactly as in lite mode, and
so are the frames lite leaves as decoded (a closed, still mouth under a closed target) and the few
it eases in and out of them over.
``pro`` keeps crops at the face's native resolution, searches more candidates, feathers more
tightly, and cross-dissolves at each cut between exemplars: the frame at a cut shows both
exemplars, each warped to their average shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from openlipsync.engine import mouth_shape as ms
from openlipsync.engine.closed_lips import ClosedLips
from openlipsync.engine.composite import (
    COLOUR_BLUR,
    OUTER_REACH,
    colour_matched,
    distance_outside,
    outer_alpha,
    ramp,
)
from openlipsync.engine.exemplars import (
    LIP_COLOUR_TOLERANCE,
    POSE_POINTS,
    ExemplarLibrary,
    cielab,
    lip_colour,
    lip_mask,
    masked_colour,
    pose_descriptor,
)
from openlipsync.engine.face_track import LandmarkTrack
from openlipsync.engine.interior import MouthInterior
from openlipsync.engine.library import ClipPass, LibrarySpec, build_library
from openlipsync.engine.lite import LiteRenderer
from openlipsync.engine.selection import LITE, Selection, select
from openlipsync.engine.speech import MouthTargets
from openlipsync.engine.warp import displacement, grid_step, remap

#: Points fitted to place an exemplar on a face: they move with the head, not with the mouth, and
#: lie inside the face (the mesh guesses the face outline on a turned head): eye corners, nose
#: base and nostrils, the cheeks beside the nose.
ALIGN = (33, 133, 362, 263, 2, 98, 327, 97, 326, 164, 167, 393, 205, 425, 50, 280, 187, 411)
_LOWER_LIP = 17  # outer lower lip, centre
_PIN_MARGIN = 0.35  # how far outside the jaw the frame's warp is pinned (canonical units)
_MOUTH_GROW = 0.12  # the exemplar covers the lips and this much skin around them
_RING = (0.03, 0.18)  # the skin ring (inner, outer distance from the lips) the colour is matched on
_DISSOLVE_GAP = 0.04  # pro dissolves cuts between exemplars whose openings differ less than this
_NUDGE = 0.05  # the most an exemplar's opening is changed to meet its target (canonical units)
#: How far (CIELAB) an exemplar's lips, matched to the frame's light, may lie from the colour of the
#: frame's own lips before they are brought back to this distance (``_lip_tone_matched``): a just
#: noticeable difference is 2-3, a plainly visible one 8 (where the library and selfcheck draw the
#: line). At 4, man_kitchen_portrait_hevc in standard against speech_en_20s kept 13 of its 16 frames
#: past selfcheck's limit; at 2, 3.
_LIP_TONE = 2.0
#: ... read from the frame's own lips only where its mouth is open less than this (inter-ocular
#: units): wider, the tracked lip band takes in teeth and tongue where the mesh falls short of the
#: lips (woman_hairbun_closeup's wide smiles, 0.29-0.43, made her exemplar's lips pale).
_TONE_GAP = 0.12


@dataclass(frozen=True)
class Style:
    """What separates ``pro`` from ``standard`` at render time."""

    feather: float  # blur (canonical units) of the exemplar's mask edge
    dissolve: bool  # cross-dissolve at cuts between exemplars
    #: How far the lips and jaw are moved from the exemplar's own shape to the speech target's.
    #: Measured with the judge: 0.5 follows the speech better than 0 on most clips and jitters
    #: less than 1 (the target's shape fully, with the exemplar only as texture).
    follow: float = 0.5


STANDARD_STYLE = Style(feather=0.04, dissolve=False)
PRO_STYLE = Style(feather=0.03, dissolve=True)


def _affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(3, 2) least-squares affine map taking rows of ``src`` to rows of ``dst``."""
    design = np.hstack([src, np.ones((len(src), 1))])
    return np.linalg.lstsq(design, dst, rcond=None)[0]


def placed(library: ExemplarLibrary, e: int, canon: np.ndarray) -> np.ndarray:
    """(468, 2) canonical points of exemplar ``e``'s face placed on the face whose points are ``canon``."""
    ex = library.points[e].astype(np.float64) / library.ppu
    fit = _affine(ex[list(ALIGN)], canon[list(ALIGN)])
    return np.hstack([ex, np.ones((len(ex), 1))]) @ fit


def nudged(shape: np.ndarray, gap: float, target: float) -> tuple[np.ndarray, float]:
    """Canonical ``shape`` (inner-lip gap ``gap``) opened or closed by at most _NUDGE towards ``target``,
    and its new gap.

    The library has a finite set of openings; this small articulation closes the remaining gap
    so the mouth follows the speech closely (and presses shut in silence), while the exemplar's
    pixels only stretch by a hair.
    """
    new_gap = gap + float(np.clip(target - gap, -_NUDGE, _NUDGE))
    return shape + ms.articulation(shape, new_gap, 0.0) - ms.articulation(shape, gap, 0.0), new_gap


def destination(lips: np.ndarray, gap: float, points: np.ndarray, frame: ms.HeadFrame) -> np.ndarray:
    """Where the frame's moving landmarks go: the exemplar's ``lips`` (image points, all 468 rows)
    for the lips, and the frame's own chin and jaw line dropped or raised for opening ``gap``.

    The jaw line is not taken from the exemplar: the mesh places a face's outline loosely, and
    moving this frame's outline onto another frame's would bend the cheek against the background.
    The chin follows the exemplar's lower lip where that lands off the articulation model's
    guess (fully under the lip, fading out along the jaw), so the skin between them never folds.
    """
    dst = ms.retarget(points, gap, 0.0).astype(np.float64)
    offset = lips[_LOWER_LIP] - dst[_LOWER_LIP]
    dst[list(ms.LIPS)] = lips[list(ms.LIPS)]
    dst[list(ms.CHIN)] += offset
    canon = frame.to_canonical(points[list(ms.JAW)].astype(np.float64))
    centre, half = canon[:, 0].mean(), max(np.ptp(canon[:, 0]) / 2, 1e-6)
    dst[list(ms.JAW)] += np.clip(1.0 - np.abs(canon[:, 0] - centre) / half, 0.0, 1.0)[:, None] * offset
    return dst


def _box(points: np.ndarray, dst: np.ndarray, frame: ms.HeadFrame, shape: tuple[int, ...]):
    """Pinned anchors outside the jaw (own and destination), and the box the output alpha can reach:
    the moved landmarks, old and new, grown by the alpha's reach (the anchors may lie outside it)."""
    moving = list(ms.MOVING)
    jaw = points[list(ms.JAW)]
    centre = points[list(ms.OUTER)].mean(axis=0)
    out = jaw - centre
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)
    travel = np.linalg.norm(dst[list(ms.JAW)] - jaw, axis=1, keepdims=True)
    ring = jaw + out * (_PIN_MARGIN * frame.scale + travel)
    h, w = shape[:2]
    allpts = np.vstack([points[moving], dst[moving]])
    reach = OUTER_REACH * frame.scale + 2
    x0, y0 = np.floor(allpts.min(axis=0) - reach).astype(int)
    x1, y1 = np.ceil(allpts.max(axis=0) + reach).astype(int) + 1
    return ring, (max(x0, 0), max(y0, 0), min(x1, w), min(y1, h))


def _mouth_box(dst: np.ndarray, frame: ms.HeadFrame, box) -> tuple[int, int, int, int]:
    """The part of ``box`` the exemplar layer can touch: the lips, grown, feathered, with the ring."""
    lips = dst[list(ms.OUTER)]
    pad = frame.scale * (max(_MOUTH_GROW, _RING[1]) + 3 * COLOUR_BLUR / 2)
    x0, y0 = np.floor(lips.min(axis=0) - pad).astype(int)
    x1, y1 = np.ceil(lips.max(axis=0) + pad).astype(int)
    return max(x0, box[0]), max(y0, box[1]), min(x1, box[2]), min(y1, box[3])


def _lip_tone_matched(layer: np.ndarray, layer_points: np.ndarray, image: np.ndarray, points: np.ndarray,
                      frame: ms.HeadFrame, usual: np.ndarray) -> np.ndarray:
    """``layer`` (float RGB, an exemplar matched to the frame's light; ``layer_points`` its landmarks
    in its pixels) with its lips moved in colour to within ``_LIP_TONE`` of this frame's own lips
    (``points`` on ``image``, head ``frame``). Where those stray from the person's ``usual`` lip
    colour (CIELAB) by more than ``LIP_COLOUR_TOLERANCE`` they are no guide, and the exemplar's
    lips, chosen for their usual colour, stay as they are: a frame whose real lips are pressed pale
    must not pass that on (woman_flags presses her lipstick away; followed there, her re-enacted
    lips paled on 3 frames).

    The light match scales the exemplar by the skin around the lips, so lips that were darker or
    paler than this person's usually are (pressed, licked, in a shadow of their own) stay so: on
    man_kitchen_portrait_hevc one exemplar chosen over ten frames of speech_en_20s showed lips 4-6
    lightness units darker than his own in those frames, and selfcheck found them 8-10 from his
    usual lip colour, past its limit of 8, where his own frames there lie within it. Only the
    excess over ``_LIP_TONE`` is taken out, so the lips still change a little as a real mouth's do."""
    if ms.inner_gap(points, frame) > _TONE_GAP:
        return layer
    x0, y0 = np.maximum(np.floor(points[list(ms.OUTER)].min(axis=0)).astype(int), 0)
    x1, y1 = np.ceil(points[list(ms.OUTER)].max(axis=0)).astype(int) + 1
    own = lip_colour(image[y0:y1, x0:x1], points - (x0, y0))
    if np.linalg.norm(own - usual) > LIP_COLOUR_TOLERANCE:
        return layer
    lips = lip_mask(layer.shape, layer_points)
    lab = cielab(np.clip(layer, 0, 255))
    off = masked_colour(lab, lips) - own
    distance = float(np.linalg.norm(off))
    if not np.isfinite(distance) or distance <= _LIP_TONE:
        return layer
    soft = lips.astype(np.float32)
    mask = np.maximum(soft, cv2.GaussianBlur(soft, (0, 0), 1.0))  # feathered outwards only
    lab -= mask[..., None] * (off * (1.0 - _LIP_TONE / distance)).astype(np.float32)
    moved = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB) * 255.0
    return layer + mask[..., None] * (moved - layer)


def _exemplar_layer(library: ExemplarLibrary, e: int, dst: np.ndarray, fixed: np.ndarray, sub,
                    step: int) -> np.ndarray:
    """Exemplar ``e`` warped so its lips land on ``dst`` and its stable points on ``fixed``."""
    ex = library.points[e].astype(np.float64)
    moving = list(ms.LIPS)
    field = displacement(np.vstack([dst[moving], fixed]), np.vstack([ex[moving], ex[list(ALIGN)]]), sub,
                         step=step)
    return remap(library.crops[e], field, sub)


class ExemplarRenderer:
    """Renders output frame k with the exemplar ``selection`` chose for it (or with lite)."""

    def __init__(self, library: ExemplarLibrary, selection: Selection, style: Style, fallback: LiteRenderer,
                 notes: list[str]) -> None:
        self.library = library
        self.fallback = fallback
        self.selection = selection
        self.style = style
        self.notes = notes
        self._usual_lips = library.usual_lips()
        follows = library.follows()
        choice = selection.choice
        # For pro: where frame k cuts to a new exemplar of about the same shape, the one the
        # previous frame's run would have continued with (or the previous one itself) dissolves
        # into it. A cut between different shapes stays a cut: half an open mouth over a closed
        # one looks like a ghost, not like motion. Nor where the lips must be closed: two closed
        # mouths half over each other show two lip lines, which read as a quiver (man_kitchen's
        # silences: mouth_jitter 1.78 with those dissolves, 1.57 without; the input's is 1.70).
        self._outgoing = np.full(len(choice), LITE)
        for k in range(1, len(choice)):
            prev, cur = choice[k - 1], choice[k]
            if LITE in (prev, cur) or cur == prev:
                continue
            cont = prev + 1 if prev + 1 < len(library) and follows[prev + 1] else prev
            similar = abs(library.gap[cur] - library.gap[cont]) < _DISSOLVE_GAP
            if cur != cont and similar and selection.gap[k] > 0:
                self._outgoing[k] = cont

    def render(self, image: np.ndarray, points: np.ndarray, k: int):
        e = int(self.selection.choice[k])
        if e == LITE or self.fallback.amount[k] < 1.0:
            # Lite keeps a closed, still mouth under a closed target as decoded, easing in and out
            # of it; an exemplar there would only swap the input's own resting lips for a copy.
            return self.fallback.render(image, points, k)
        frame = ms.HeadFrame.from_points(points)
        canon = frame.to_canonical(points.astype(np.float64))
        shape, gap = placed(self.library, e, canon), float(self.library.gap[e])
        mix = [(e, 1.0)]
        if self.style.dissolve and self._outgoing[k] != LITE:
            other = int(self._outgoing[k])
            shape = (shape + placed(self.library, other, canon)) / 2
            gap = (gap + float(self.library.gap[other])) / 2
            mix = [(e, 0.5), (other, 0.5)]
        shape, gap = nudged(shape, gap, float(self.selection.gap[k]))
        dst = destination(frame.to_image(shape), gap, points, frame)
        # Halfway to the speech stage's own shape for this frame (lite's target: the speaker's
        # rest lips, opened and spread as the speech says): the lips follow the new speech more
        # exactly, while what shows between them stays the exemplar's.
        lite = self.fallback
        pose = lite.poses[k]
        target = ms.retarget(points, pose.gap, pose.width, None, lite.rest.at(int(lite.source[k])))
        moving = list(ms.MOVING)
        dst[moving] += self.style.follow * (target[moving] - dst[moving])
        return self._compose(image, points, frame, dst, mix)

    def _compose(self, image, points, frame: ms.HeadFrame, dst: np.ndarray, mix: list[tuple[int, float]]):
        moving = list(ms.MOVING)
        ring_pts, box = _box(points, dst, frame, image.shape)
        fixed = points[list(ALIGN)].astype(np.float64)
        pins = np.vstack([points[list(ms.FIXED)], ring_pts])
        # 2. The frame's own lips and jaw moved onto the destination shape.
        step = grid_step(frame.scale)
        field = displacement(np.vstack([dst[moving], pins]), np.vstack([points[moving], pins]), box,
                             step=step)
        patch = remap(image, field, box)
        x0, y0, x1, y1 = box
        # 3-4. The exemplar over the mouth, colour-matched to the warped frame around it.
        sub = _mouth_box(dst, frame, box)
        sx0, sy0, sx1, sy1 = sub
        if sx1 > sx0 and sy1 > sy0:
            lips = distance_outside(dst[list(ms.OUTER)], (sx0, sy0), (sy1 - sy0, sx1 - sx0))
            under = patch[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0]
            ring = ((lips > _RING[0] * frame.scale) & (lips < _RING[1] * frame.scale)).astype(np.float32)
            layer = sum(w * _exemplar_layer(self.library, e, dst, fixed, sub, step) for e, w in mix)
            layer = colour_matched(layer, under, ring, frame.scale)
            layer = _lip_tone_matched(layer, dst - (sx0, sy0), image, points, frame, self._usual_lips)
            mask = ramp(lips, _MOUTH_GROW * frame.scale, self.style.feather * frame.scale)
            under += mask[..., None] * (layer - under)
        return patch, box, outer_alpha(np.vstack([dst[moving], points[moving]]), box, frame.scale)


@dataclass(frozen=True)
class ModeSpec:
    """Everything a mode sets: library size and resolution, search width, render style."""

    library: LibrarySpec
    candidates: int
    style: Style


MODES = {
    "standard": ModeSpec(LibrarySpec(capacity=360, max_ppu=80.0), candidates=12, style=STANDARD_STYLE),
    "pro": ModeSpec(LibrarySpec(capacity=480, max_ppu=192.0), candidates=24, style=PRO_STYLE),
}


def _frame_poses(track: LandmarkTrack, source: np.ndarray) -> np.ndarray:
    """(N, P) pose descriptor of each output frame's own face; NaN rows where it has none."""
    used = np.unique(source)
    poses = np.full((len(track.ok), 2 * len(POSE_POINTS)), np.nan)
    good = used[track.ok[used]]
    if len(good):
        poses[good] = pose_descriptor(track.points[good])
    return poses[source]


def _notes(library: ExemplarLibrary, selection: Selection, with_face: np.ndarray) -> list[str]:
    """What the render summary says about the library and the lite fallback."""
    if len(library) == 0 and library.span is None:
        return ["mouth library: no frame of the input has a usable face; every frame was rendered in lite"]
    if not library.varied():
        return ["mouth library: the input's mouth barely moves, so it has no mouth shapes to re-sequence; "
                "every frame was rendered in lite"]
    fallback = int(np.sum((selection.choice == LITE) & with_face))
    if fallback == 0:
        return []
    return [f"mouth library: {fallback} of {int(with_face.sum())} frames needed a mouth shape or head pose "
            "the input never shows and were rendered in lite"]


def exemplar_renderer(mode: str, clip: ClipPass, track: LandmarkTrack, targets: MouthTargets,
                      source: np.ndarray, interior: MouthInterior | None = None,
                      closed: ClosedLips | None = None) -> ExemplarRenderer:
    """The ``standard`` or ``pro`` renderer for a render of ``clip``.

    ``track`` is render()'s face track of the clip range and ``source`` the input frame each
    output frame shows (schedule.source), so each output frame's exemplar suits its head pose.
    ``interior`` and ``closed`` are the open mouth and closed lips the lite fallback borrows.
    """
    spec = MODES[mode]
    source = np.asarray(source)
    library = build_library(clip, track, spec.library)
    poses = _frame_poses(track, source)
    fallback = LiteRenderer(track, targets, source, interior, closed, frame_rate=clip.frame_rate())
    selection = select(library, targets, poses, candidates=spec.candidates, rest=fallback.rest.shape,
                       held=fallback.rest.held_width()[source])
    with_face = track.ok[source]
    return ExemplarRenderer(library, selection, spec.style, fallback, _notes(library, selection, with_face))
