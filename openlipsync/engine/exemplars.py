"""The exemplar library: the person's own mouths, cut from the input and brought to one pose.

After Bregler, Covell and Slaney's "Video Rewrite" (1997): real lips, teeth and tongue of the same
person cannot be synthesised as well as they can be found. Each entry is a crop around the mouth
in the canonical head frame (``mouth_shape.HeadFrame``: eyes at (+-0.5, 0), one unit the
inter-ocular distance), so crops from frames with different head positions, sizes and roll line
up and share one set of coordinates. Beside the pixels each entry keeps what the later stages ask
of it: its landmarks in crop pixels (to warp from), a mouth descriptor (inner gap, lip width) to
match speech targets against, a head-pose descriptor (an exemplar from a turned head does not fit
a frontal one), the colour of its lips (a lick, a press that rolls the lips in, a frame of motion
blur pales them), how much teeth it shows (a rounded /u/ shows none, an /i/ or an /s/ shows them:
the speech stage's articulation asks for one or the other), a small grey thumbnail to price a cut
between two exemplars, and its source frame, so runs of consecutive frames can play as they were
filmed.

Memory is bounded by the capacity the caller gives (the library is filled up to it and no
further); crops are uint8 at a pixels-per-unit the caller caps, so a 4K close-up costs no more
than a face of that size.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from openlipsync.engine import mouth_shape as ms
from openlipsync.engine.face_track import LIPS_OUTER, NUM_LANDMARKS

#: The crop window (left, top, right, bottom) in canonical units around the mouth corners' midpoint:
#: the lips at their widest and most open plus the skin the blend and colour match need around them.
WINDOW = (-0.72, -0.40, 0.72, 0.75)
#: Landmarks whose canonical positions change with head yaw and pitch but not with the mouth:
#: nose tip and base, nostrils, cheeks (the face outline is left out: the mesh guesses it on a turned head).
POSE_POINTS = (1, 2, 98, 327, 205, 425)
#: Corner-to-corner width change (canonical units) that a speech width target of +-1 stands for;
#: mouth_shape moves each corner by 0.07 for it.
WIDTH_SPAN = 0.14
#: A library whose gaps span less than this (5th to 95th percentile) has no open mouths to offer.
MIN_VARIETY = 0.06
#: ... and one whose mouths all look alike (95th percentile of the thumbnails' mean squared distance
#: from their median, thumbnails being unit-variance) shows one shape, however the mesh wavers on it.
#: Measured: a still photo gliding across the frame 0.10, a still woman 0.02; talking clips 0.38-0.75.
MIN_LOOK_VARIETY = 0.2
_UPPER_INNER, _LOWER_INNER = (82, 13, 312), (87, 14, 317)  # inner-lip pairs, left to right
#: Gaps below this (canonical units) show no teeth; above it the bands next to each lip are
#: compared with the lower lip: as bright (ratio 1) is no teeth, _TEETH_FULL brighter is plain teeth.
_TEETH_MIN_GAP = 0.03
_TEETH_FULL = 1.5
#: CIELAB distance from the usual lip colour that is always within it: a plainly visible change
#: (a just noticeable one is 2-3); selfcheck's lip colour figure draws the line at the same place.
LIP_COLOUR_TOLERANCE = 8.0
#: Exemplars compared for sharpness (``ExemplarLibrary.blur``) open within this much of each other
#: (canonical units): an open mouth's teeth edges are sharper than any closed lips can be. At least
#: _SHARP_PEERS nearest by opening are compared where fewer lie that close.
_SHARP_GAP = 0.03
_SHARP_PEERS = 8
#: Lips at least this share of their peers' median sharpness are not blurred (the measure's own
#: spread between neighbouring frames of one still mouth is about 10-15%); at _SHARP_NONE of it
#: they are as good as smeared.
_SHARP_ENOUGH, _SHARP_NONE = 0.8, 0.4
_THUMB = (24, 16)  # (w, h) of the grey thumbnail
_THUMB_WINDOW = (-0.5, -0.2, 0.5, 0.45)  # what the thumbnail shows: the lips and the inner mouth


def crop_size(ppu: float) -> tuple[int, int]:
    """(height, width) in pixels of a crop at ``ppu`` pixels per canonical unit."""
    left, top, right, bottom = WINDOW
    return int(round((bottom - top) * ppu)), int(round((right - left) * ppu))


def pose_descriptor(points: np.ndarray) -> np.ndarray:
    """Flattened canonical positions of POSE_POINTS for (..., 468, 2) image points."""
    points = np.asarray(points, dtype=np.float64)
    flat = points.reshape(-1, *points.shape[-2:])
    out = np.empty((len(flat), 2 * len(POSE_POINTS)))
    for i, pts in enumerate(flat):
        out[i] = ms.HeadFrame.from_points(pts).to_canonical(pts[list(POSE_POINTS)]).ravel()
    return out.reshape(*points.shape[:-2], 2 * len(POSE_POINTS))


def opening(canon: np.ndarray) -> float:
    """Inner-lip gap of canonical landmarks, averaged over the centre and both sides of the mouth.

    A viewer sees the whole opening, not its centre line: a mouth open at the centre only reads
    as less open than one open across its width, and three pairs tell the two apart.
    """
    gaps = canon[list(_LOWER_INNER), 1] - canon[list(_UPPER_INNER), 1]
    return float(max(gaps.mean(), 0.0))


def frame_openings(points: np.ndarray) -> np.ndarray:
    """``opening`` of each of (N, 468, 2) image points."""
    return np.array([opening(ms.HeadFrame.from_points(p).to_canonical(p.astype(np.float64))) for p in points])


def gap_span(gaps: np.ndarray) -> tuple[float, float]:
    """(5th, 95th) percentile of ``gaps``: how closed and how open a mouth typically is."""
    if len(gaps) == 0:
        return 0.0, 0.0
    low, high = np.percentile(gaps, [5, 95])
    return float(low), float(high)


def mouth_width(canon: np.ndarray) -> float:
    """Corner-to-corner width of canonical landmarks."""
    return float(np.linalg.norm(canon[ms.CORNERS[1]] - canon[ms.CORNERS[0]]))


def cut(image: np.ndarray, points: np.ndarray, ppu: float) -> tuple[np.ndarray, np.ndarray]:
    """The mouth crop of one frame at ``ppu`` and the frame's landmarks in the crop's pixels."""
    frame = ms.HeadFrame.from_points(points)
    canon = frame.to_canonical(points.astype(np.float64))
    corner = canon[list(ms.CORNERS)].mean(axis=0)
    left, top, _, _ = WINDOW
    corner_of_crop = corner + (left, top)
    step = frame.scale / ppu  # image pixels per crop pixel
    ux, uy = frame.axes
    shift = frame.origin + frame.scale * (corner_of_crop[0] * ux + corner_of_crop[1] * uy)
    to_image = np.array([[step * ux[0], step * uy[0], shift[0]], [step * ux[1], step * uy[1], shift[1]]])
    h, w = crop_size(ppu)
    source = image
    if step > 1.5:
        # Shrinking: blur first (only around the crop) so the crop does not alias.
        corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64) @ to_image.T
        pad = int(3 * step) + 2
        x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int) - pad, 0)
        x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + pad
        source = cv2.GaussianBlur(image[y0:y1, x0:x1], (0, 0), 0.45 * step)
        to_image[:, 2] -= (x0, y0)
    crop = cv2.warpAffine(source, to_image, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)
    return crop, ((canon - corner_of_crop) * ppu).astype(np.float32)


def teeth_shown(crop: np.ndarray, canon: np.ndarray, ppu: float) -> float:
    """How much teeth a crop shows, upper or lower row, 0 (lips together, or a dark opening) to 1.

    ``canon`` are its landmarks in crop pixels over ``ppu`` (canonical units, axes aligned)."""
    gap = opening(canon)
    if gap < _TEETH_MIN_GAP:
        return 0.0
    contrast = max(ms.teeth_contrast(crop, canon, lambda points: points * ppu, gap))
    return float(np.clip((contrast - 1.0) / (_TEETH_FULL - 1.0), 0.0, 1.0))


def lip_mask(shape: tuple[int, ...], crop_points: np.ndarray) -> np.ndarray:
    """uint8 mask (1: lips) of a crop of ``shape``: between the outer and the inner lip contour."""
    outer = np.vstack([crop_points[list(ms.OUTER_UPPER)], crop_points[list(ms.OUTER_LOWER)][::-1]])
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(outer).astype(np.int32)], 1)
    cv2.fillPoly(mask, [np.round(ms.inner_contour(crop_points)).astype(np.int32)], 0)
    return mask


def cielab(crop: np.ndarray) -> np.ndarray:
    """An RGB crop (0-255, any dtype) in float32 CIELAB."""
    return cv2.cvtColor(crop.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def masked_colour(lab: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of a CIELAB crop where ``mask`` is set; NaN over fewer than 10 pixels."""
    if mask.sum() < 10:
        return np.full(3, np.nan)
    return lab[mask > 0].mean(axis=0).astype(np.float64)


def lip_colour(crop: np.ndarray, crop_points: np.ndarray) -> np.ndarray:
    """Mean CIELAB colour of the lips (between the outer and the inner contour) of a crop."""
    return masked_colour(cielab(crop), lip_mask(crop.shape, crop_points))


def sharpness(crop: np.ndarray, polygon: np.ndarray) -> float:
    """Variance of the Laplacian of a crop inside ``polygon`` (crop pixels): motion blur and
    defocus lower it, so of several crops of one mouth the sharpest scores highest."""
    lap = cv2.Laplacian(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F)
    mask = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    inside = lap[mask > 0]
    return float(inside.var()) if inside.size > 8 else 0.0


def thumbnail(crop: np.ndarray, ppu: float) -> np.ndarray:
    """Grey, zero-mean, unit-variance thumbnail of a crop's lips: what a cut between two shows."""
    left, top, _, _ = WINDOW
    tl, tt, tr, tb = _THUMB_WINDOW
    x0, x1 = int(round((tl - left) * ppu)), int(round((tr - left) * ppu))
    y0, y1 = int(round((tt - top) * ppu)), int(round((tb - top) * ppu))
    grey = cv2.cvtColor(crop[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, _THUMB, interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    small -= small.mean()
    return small / max(float(small.std()), 1.0)


@dataclass
class ExemplarLibrary:
    """M exemplars; every array has one row per exemplar, in source-frame order."""

    ppu: float  # crop pixels per canonical unit
    crops: np.ndarray  # (M, h, w, 3) uint8
    points: np.ndarray  # (M, 468, 2) float32: the exemplar's landmarks in its crop's pixels
    gap: np.ndarray  # (M,) inner-lip gap, canonical units
    width: np.ndarray  # (M,) corner-to-corner width, canonical units
    pose: np.ndarray  # (M, P) pose_descriptor
    teeth: np.ndarray  # (M,) teeth_shown
    lips: np.ndarray  # (M, 3) lip_colour (CIELAB)
    thumbs: np.ndarray  # (M, T) float32 thumbnails
    source: np.ndarray  # (M,) int: frame number in the library's pass over the clip
    times: np.ndarray  # (M,) float: seconds from the start of the video
    #: (M, F) audio features of the input's own speech around each exemplar (speech.MouthTargets
    #: features), or None where the input has no speech the mouth follows.
    features: np.ndarray | None = None
    #: gap_span of the frames the library was chosen from, where it declined to cut any (no variety).
    span: tuple[float, float] | None = None

    def __len__(self) -> int:
        return len(self.gap)

    def follows(self) -> np.ndarray:
        """(M,) bool: exemplar i is the frame right after exemplar i - 1 (a run continues)."""
        out = np.zeros(len(self), bool)
        out[1:] = np.diff(self.source) == 1
        return out

    def reach(self) -> tuple[float, float]:
        """(smallest, largest) typical gap of the person's mouth (gap_span)."""
        return self.span if self.span is not None else gap_span(self.gap)

    def lip_distance(self, shape: np.ndarray) -> np.ndarray:
        """(M,) RMS distance (canonical units) of each exemplar's lips, centred, from ``shape``
        (rows in mouth_shape.LIPS order, centred on 0, as mouth_shape.RestLips.shape)."""
        lips = self.points[:, list(ms.LIPS)].astype(np.float64) / self.ppu
        lips -= lips.mean(axis=1, keepdims=True)
        return np.sqrt(((lips - shape) ** 2).sum(axis=-1).mean(axis=-1))

    def usual_lips(self) -> np.ndarray:
        """This person's usual lip colour (CIELAB): the exemplars' median; NaN without any."""
        seen = np.isfinite(self.lips).all(axis=1)
        return np.median(self.lips[seen], axis=0) if seen.any() else np.full(3, np.nan)

    def off_colour(self) -> np.ndarray:
        """(M,) bool: lips whose colour strays from this person's usual lips (further from the
        median than three times the typical distance, and at least LIP_COLOUR_TOLERANCE): pressed,
        licked or blurred lips that would flash pale or dark between the others."""
        seen = np.isfinite(self.lips).all(axis=1)
        if seen.sum() < 5:
            return ~seen
        distance = np.linalg.norm(np.nan_to_num(self.lips - self.usual_lips(), nan=np.inf), axis=1)
        typical = float(np.median(distance[seen]))
        return distance > max(LIP_COLOUR_TOLERANCE, 3.0 * typical)

    def blur(self) -> np.ndarray:
        """(M,) how blurred each exemplar's lips are next to the others of about the same opening:
        0 as sharp as they usually are, 1 smeared. A mouth filmed in fast motion is
        smeared over a frame; re-sequenced into a slow moment it reads as a soft, pale mouth
        (woman_hairbun_closeup re-enacted in pro: a dark smear of tongue and lips over frames
        366-368, where her sharp teeth at about the same opening show now)."""
        sharp = np.array([sharpness(crop, points[list(LIPS_OUTER)])
                          for crop, points in zip(self.crops, self.points, strict=True)])
        out = np.zeros(len(self))
        for e, gap in enumerate(self.gap):
            near = np.abs(self.gap - gap)
            peers = near <= max(_SHARP_GAP, float(np.sort(near)[min(_SHARP_PEERS, len(near)) - 1]))
            usual = float(np.median(sharp[peers]))
            if usual > 0:
                out[e] = (_SHARP_ENOUGH - sharp[e] / usual) / (_SHARP_ENOUGH - _SHARP_NONE)
        return np.clip(out, 0.0, 1.0)

    def varied(self) -> bool:
        """Whether the person's mouth opens and closes enough for exemplars to say anything."""
        low, high = self.reach()
        if high - low < MIN_VARIETY or len(self) == 0:
            return False
        spread = ((self.thumbs - np.median(self.thumbs, axis=0)) ** 2).mean(axis=1)
        return float(np.percentile(spread, 95)) >= MIN_LOOK_VARIETY


class LibraryBuilder:
    """Collects exemplars one frame at a time into arrays sized for ``capacity`` up front."""

    def __init__(self, capacity: int, ppu: float) -> None:
        if capacity < 1:
            raise ValueError(f"library capacity must be at least 1, got {capacity}")
        self.ppu = float(ppu)
        h, w = crop_size(self.ppu)
        self._crops = np.empty((capacity, h, w, 3), np.uint8)
        self._points = np.empty((capacity, NUM_LANDMARKS, 2), np.float32)
        self._count = 0
        self._gap: list[float] = []
        self._width: list[float] = []
        self._pose: list[np.ndarray] = []
        self._teeth: list[float] = []
        self._lips: list[np.ndarray] = []
        self._thumbs: list[np.ndarray] = []
        self._source: list[int] = []
        self._times: list[float] = []

    @property
    def full(self) -> bool:
        return self._count == len(self._crops)

    def add(self, image: np.ndarray, points: np.ndarray, source: int, time: float) -> None:
        """Add frame ``source`` (at ``time`` s) with its face landmarks; ignored once full."""
        if self.full:
            return
        crop, crop_points = cut(image, points, self.ppu)
        self._crops[self._count] = crop
        self._points[self._count] = crop_points
        self._count += 1
        canon = crop_points / self.ppu
        self._gap.append(opening(canon))
        self._width.append(mouth_width(canon))
        self._pose.append(pose_descriptor(points))
        self._teeth.append(teeth_shown(crop, canon, self.ppu))
        self._lips.append(lip_colour(crop, crop_points))
        self._thumbs.append(thumbnail(crop, self.ppu))
        self._source.append(int(source))
        self._times.append(float(time))

    def build(self) -> ExemplarLibrary:
        n = self._count
        return ExemplarLibrary(
            ppu=self.ppu,
            crops=self._crops[:n],
            points=self._points[:n],
            gap=np.array(self._gap, np.float64),
            width=np.array(self._width, np.float64),
            pose=np.array(self._pose, np.float64).reshape(n, 2 * len(POSE_POINTS)),
            teeth=np.array(self._teeth, np.float64),
            lips=np.array(self._lips, np.float64).reshape(n, 3),
            thumbs=np.array(self._thumbs, np.float32).reshape(n, _THUMB[0] * _THUMB[1]),
            source=np.array(self._source, np.int64),
            times=np.array(self._times, np.float64),
        )
