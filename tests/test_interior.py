"""The mouth interior lite shows: the person's own open mouth, kept from the tracking pass and fitted
to each frame's lips."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from openlipsync.engine import mouth_shape as ms
from openlipsync.engine.exemplars import crop_size
from openlipsync.engine.interior import InteriorCollector, MouthInterior, Shading, lightness
from openlipsync.engine.spill import Spill
from tests.faces import meshed_frames

os.environ.setdefault("GLOG_minloglevel", "2")


@pytest.fixture(scope="module")
def talking() -> list[tuple[np.ndarray, np.ndarray]]:
    """The first 2 s of woman_indoor.mp4 with a face: she talks, teeth showing."""
    found = [(image, points) for image, points in meshed_frames("woman_indoor.mp4", 50) if points is not None]
    assert len(found) >= 40, "woman_indoor.mp4 shows her face from the start"
    return found


def _interior_of(image: np.ndarray, points: np.ndarray) -> MouthInterior:
    collector = InteriorCollector()
    collector.observe(image, points)
    interior = collector.result()
    assert interior is not None, "an open, frontal mouth is an interior"
    return interior


def _paint(image: np.ndarray, points: np.ndarray, target: np.ndarray, interior: MouthInterior) -> np.ndarray:
    h, w = image.shape[:2]
    box = (0, 0, w, h)
    patch = image.astype(np.float32)
    interior.paint(patch, target, box, ms.HeadFrame.from_points(target), lightness(image, points))
    return patch


def _inside(target: np.ndarray, shape: tuple[int, ...], inset: float) -> np.ndarray:
    """Pixels well inside ``target``'s inner lips (the contour pulled ``inset`` of the way to its centre)."""
    import cv2

    contour = ms.inner_contour(target)
    contour = contour + inset * (contour.mean(axis=0) - contour)
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(contour).astype(np.int32)], 1)
    return mask > 0


def test_the_collector_keeps_a_wide_sharp_frontal_mouth(talking) -> None:
    collector = InteriorCollector()
    for image, points in talking:
        collector.observe(image, points)
    collector.observe(talking[0][0], None)  # a frame without a face is passed over
    interior = collector.result()
    assert interior is not None
    widest = max(ms.inner_gap(points) for _, points in talking)
    assert 0.75 * widest <= interior.gap <= widest
    assert interior.crop.shape[:2] == crop_size(interior.ppu) and interior.crop.dtype == np.uint8
    collector.park(Spill())  # the run ended: its candidates' crops left memory
    assert np.array_equal(collector.result().crop, interior.crop)


def test_a_clip_that_never_opens_its_mouth_has_no_interior(talking) -> None:
    collector = InteriorCollector()
    for image, points in talking:
        closed = ms.retarget(points, 0.0, 0.0)  # the same faces with their lips together
        collector.observe(image, closed)
    assert collector.result() is None


def test_a_mouth_painted_into_its_own_frame_is_its_own(talking) -> None:
    """Fitted to the lips it was cut from, the interior lands on its own pixels (the mapping is
    the identity there; only the crop's resampling differs)."""
    image, points = max(talking, key=lambda found: ms.inner_gap(found[1]))
    interior = _interior_of(image, points)
    painted = _paint(image, points, points, interior)
    inside = _inside(points, image.shape, 0.2)
    assert inside.sum() > 50
    error = np.abs(painted[inside] - image[inside].astype(np.float32)).mean()
    assert error < 8.0, f"mean error {error:.1f} of 255 inside the lips"


def test_a_half_open_mouth_keeps_the_upper_teeth_under_the_upper_lip(talking) -> None:
    """Closing half way hides the middle of the mouth, not the teeth: the band under the upper
    lip still shows the sample's teeth (in the lips' shade, 90% of their light at half the
    opening), not the dark back of the mouth."""
    image, points = max(talking, key=lambda found: ms.inner_gap(found[1]))
    interior = _interior_of(image, points)
    gap = ms.inner_gap(points)
    frame = ms.HeadFrame.from_points(points)
    below = frame.axes[1] * frame.scale * 0.02  # just under the upper lip's middle

    def luma_at(img: np.ndarray, xy: np.ndarray) -> float:
        x, y = np.round(xy).astype(int)
        return float(img[y - 1: y + 2, x - 2: x + 3].astype(np.float32).mean())

    own_teeth = luma_at(image, points[ms.UPPER_MID] + below)
    half = ms.retarget(points, gap / 2, 0.0)
    painted = _paint(image, points, half, interior)
    assert own_teeth > 120, "her upper teeth show in the sample"
    assert luma_at(painted, half[ms.UPPER_MID] + below) > 0.55 * own_teeth  # the back of her mouth: 0.08


@pytest.fixture(scope="module")
def lipstick() -> list[tuple[np.ndarray, np.ndarray]]:
    """woman_flags.mp4 (5 s): her narrow openings are darker inside than her widest mouth."""
    found = [(image, points) for image, points in meshed_frames("woman_flags.mp4", 125) if points is not None]
    assert len(found) >= 100, "woman_flags.mp4 shows her face throughout"
    return found


def _luma_inside(painted: np.ndarray, target: np.ndarray, light: float) -> float:
    """Mean brightness between ``target``'s inner lips over the cheeks' ``light``."""
    luma = painted[_inside(target, painted.shape, 0.0)] @ np.array([0.299, 0.587, 0.114], np.float32)
    return float(luma.mean()) / light


def test_a_barely_parted_mouth_is_as_dark_inside_as_the_persons_own(lipstick) -> None:
    """The sample is her widest mouth; between lips barely apart its teeth must be lit as her own
    narrow openings are (little light gets in), not as brightly as wide open. The collector
    learns that light from the frames it sees; painted at a narrow opening, the inside is within
    5% of it, where lit by the cheeks alone it is over 10% brighter."""
    collector = InteriorCollector()
    for image, points in lipstick:
        collector.observe(image, points)
    interior = collector.result()
    assert interior is not None
    image, points = max(lipstick, key=lambda found: ms.inner_gap(found[1]))
    narrow = 0.06
    own = interior.shading.at(narrow)
    assert own is not None, "her narrow openings were seen"
    target = ms.retarget(points, narrow, 0.0)
    light = lightness(image, points)
    learnt = _luma_inside(_paint(image, points, target, interior), target, light)
    assert abs(learnt / own - 1) < 0.05, f"{learnt:.2f} inside against her own {own:.2f}"
    unlearnt = dataclasses.replace(interior, shading=Shading())
    assert unlearnt.shading.at(narrow) is None
    assert _luma_inside(_paint(image, points, target, unlearnt), target, light) > 1.1 * own


def test_a_mouth_is_never_lit_brighter_than_its_sample(lipstick) -> None:
    """Between lips barely apart the tracked inner contour holds mostly lip, so a person whose
    mouth hardly opens teaches a light that is their lips', not their mouth's: it darkens the
    sample, never brightens it (brightened, a dark gap became an orange streak)."""
    image, points = max(lipstick, key=lambda found: ms.inner_gap(found[1]))
    interior = _interior_of(image, points)
    bright = Shading()
    for _ in range(10):
        bright.add(0.06, 1.9)
    target = ms.retarget(points, 0.06, 0.0)
    taught = _paint(image, points, target, dataclasses.replace(interior, shading=bright))
    assert np.array_equal(taught, _paint(image, points, target, interior))


def test_a_narrow_mouth_shows_its_upper_teeth_before_its_lower(talking) -> None:
    """Lips closing over the mouth hide the lower teeth first (they sit behind the lower lip) and
    the upper teeth last: at 30% of the sample's opening, most of the opening comes from the
    sample's upper side (1 - 0.55 x 0.3, 84%), not the 45% it has at the sample's own opening,
    which showed two rows of teeth clenched into a narrow slit."""
    image, points = max(talking, key=lambda found: ms.inner_gap(found[1]))
    interior = _interior_of(image, points)
    # The sample repainted: its upper side (above the middle of its opening) red, the rest blue.
    middle = (interior.upper[5, 1] + interior.lower[5, 1]) / 2
    rows = interior.origin[1] + middle * interior.ppu
    crop = np.zeros_like(interior.crop)
    crop[: int(round(rows))] = (255, 0, 0)
    crop[int(round(rows)):] = (0, 0, 255)
    two_sided = dataclasses.replace(interior, crop=crop, shading=Shading())
    shares = {}
    for share in (1.0, 0.3):
        target = ms.retarget(points, ms.inner_gap(points) * share, 0.0)
        painted = _paint(image, points, target, two_sided)
        inside = _inside(target, image.shape, 0.15)
        red, blue = painted[inside][:, 0], painted[inside][:, 2]
        shares[share] = float(np.mean(red > blue))
    assert shares[1.0] < 0.6, shares  # at its own opening the sample is as it was
    assert shares[0.3] > 0.7, shares
