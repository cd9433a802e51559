"""Paste a re-rendered lower face back into the decoded frame; the masks and colour match it uses.

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


def distance_outside(points: np.ndarray, offset: tuple[float, float], shape: tuple[int, int]) -> np.ndarray:
    """Pixels from the convex hull of ``points`` (0 inside) over a box at ``offset`` of ``shape``.

    Masks grown and feathered from a distance map cost one linear-time transform, where dilating
    and blurring by a face-sized radius cost tens of milliseconds per frame on a close-up (the
    lent closed lips' light ring, dilated, made lite slower than standard on a 720x1280 selfie).
    """
    outside = np.full(shape, 255, np.uint8)
    hull = cv2.convexHull(np.round((points - np.asarray(offset)) * 4).astype(np.int32))
    cv2.fillConvexPoly(outside, hull, 0, lineType=cv2.LINE_8, shift=2)
    return cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_5)


def ramp(distance: np.ndarray, edge: float, soft: float) -> np.ndarray:
    """1 well inside ``edge`` pixels, 0 well outside, a smooth step ``soft`` pixels either side: a
    mask grown and feathered from a distance map (``distance_outside``)."""
    x = np.clip((edge + soft - distance) / max(2.0 * soft, 1e-6), 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


#: The region a re-rendered lower face replaces, in inter-ocular units: the hull of its moving
#: landmarks, where they were and where they go, grown by OUTER_GROW and feathered OUTER_SOFT either
#: side of that, so the mask ends OUTER_REACH past them. Lite and standard blend alike.
OUTER_GROW, OUTER_SOFT = 0.08, 0.05
OUTER_REACH = OUTER_GROW + OUTER_SOFT


def outer_alpha(moved: np.ndarray, box: tuple[int, int, int, int], scale: float) -> np.ndarray:
    """The blend mask over ``box`` of a lower face whose moving landmarks, old and new, are
    ``moved``, for a face ``scale`` pixels between the eyes."""
    x0, y0, x1, y1 = box
    distance = distance_outside(moved, (x0, y0), (y1 - y0, x1 - x0))
    return ramp(distance, OUTER_GROW * scale, OUTER_SOFT * scale)


def paste(image: np.ndarray, patch: np.ndarray, box: tuple[int, int, int, int], alpha: np.ndarray) -> None:
    """Blend ``patch`` (float32 RGB) into ``image`` (uint8 RGB, in place) over ``box`` with ``alpha``."""
    x0, y0, x1, y1 = box
    region = image[y0:y1, x0:x1]
    blended = cv2.blendLinear(region.astype(np.float32), patch, 1.0 - alpha, alpha)
    region[:] = cv2.convertScaleAbs(blended)


#: Spatial scale (inter-ocular units) of ``colour_matched``'s correction.
COLOUR_BLUR = 0.15
#: Ring pixels whose difference exceeds this many times the ring's median difference, and
#: _COLOUR_TRUSTED (RGB units, a lighting change between two frames), are not skin.
_COLOUR_OUTLIER = 4.0
_COLOUR_TRUSTED = 20.0


def colour_matched(layer: np.ndarray, under: np.ndarray, ring: np.ndarray, scale: float) -> np.ndarray:
    """``layer`` (float RGB, a mouth from another frame) times the smooth ratio of ``under`` (this
    frame) to it measured on the skin ``ring``, for a face ``scale`` pixels between the eyes.

    Light scales what it falls on, so a shadow that darkens the skin by a fifth darkens the lips by
    a fifth, not by as many levels as the brighter skin lost: matched by the difference, the
    exemplar's lips came out darker than the real ones wherever the face was in shadow
    (woman_hairbun_closeup in standard: 30 of the 42 frames whose lips were off their usual colour).
    The ratio is taken as a difference of logarithms (of values plus one, so black stays finite).

    Ring pixels that differ far more than the ring does as a whole are left out: there the warped
    frame shows something other than skin, such as the real lips or tongue reaching past the new
    lips when the real mouth is open wider than the exemplar, and they tinted the exemplar's lips
    darker and redder (woman_hairbun_closeup re-enacted in standard: lips off their usual colour
    on 6.2% of frames, 4.9% without them; the real clip's own share is 2.6%).

    The correction has no detail finer than ``COLOUR_BLUR``, so it is computed on a grid a few
    pixels per blur radius and scaled back up.
    """
    # One logarithm of a quotient per pixel, and the gain exponentiated on the coarse grid, not
    # per pixel: on a close-up's large box, two logarithms and an exponential of every pixel cost
    # a few milliseconds a frame. (Gathering the ring's pixels only was slower still where the ring
    # is a large share of the box, as standard's is.)
    on = ring > 0
    diff = under - layer
    size = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    if on.any():
        ring = ring * (size <= max(_COLOUR_OUTLIER * float(np.median(size[on])), _COLOUR_TRUSTED))
    ratio = cv2.log((under + 1.0) / (layer + 1.0)) * ring[..., None]
    h, w = ring.shape
    shrink = max(COLOUR_BLUR * scale / 4.0, 1.0)
    small = (max(int(round(w / shrink)), 1), max(int(round(h / shrink)), 1))
    sigma = COLOUR_BLUR * scale / shrink
    weight = cv2.GaussianBlur(cv2.resize(ring, small, interpolation=cv2.INTER_AREA), (0, 0), sigma)
    gain = cv2.resize(ratio, small, interpolation=cv2.INTER_AREA)
    gain = cv2.GaussianBlur(gain, (0, 0), sigma) / np.maximum(weight, 1e-3)[..., None]
    factor = cv2.resize(np.exp(gain), (w, h), interpolation=cv2.INTER_LINEAR)
    return (layer + 1.0) * factor - 1.0
