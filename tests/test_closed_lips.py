"""The closed lips lite borrows: the person's own closed mouth, kept from the tracking pass and laid
over a mouth that lite shuts from wide open, so no teeth or tongue are left squeezed on the lip line."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from openlipsync.engine import mouth_shape as ms
from openlipsync.engine.closed_lips import ClosedLips, ClosedLipsCollector, shares
from openlipsync.engine.composite import distance_outside, paste
from openlipsync.engine.exemplars import crop_size, cut, lip_colour, opening
from openlipsync.engine.face_track import LIPS_OUTER
from openlipsync.engine.lite import MouthPose, render_mouth
from openlipsync.engine.spill import Spill
from tests.faces import meshed_frames

os.environ.setdefault("GLOG_minloglevel", "2")

_PPU = 100.0  # pixels per inter-ocular unit of the crops compared


@pytest.fixture(scope="module")
def hairbun() -> list[tuple[np.ndarray, np.ndarray]]:
    """The first 4.3 s of woman_hairbun_closeup.mp4: lips together, then wide open with teeth."""
    found = [(image, points) for image, points in meshed_frames("woman_hairbun_closeup.mp4", 130)
             if points is not None]
    assert len(found) >= 120, "woman_hairbun_closeup.mp4 shows her face from the start"
    return found


def _gap(points: np.ndarray) -> float:
    return opening(ms.HeadFrame.from_points(points).to_canonical(points.astype(np.float64)))


def _closed_lips(frames: list[tuple[np.ndarray, np.ndarray]]) -> ClosedLips:
    collector = ClosedLipsCollector()
    for image, points in frames:
        collector.observe(image, points)
    lips = collector.result()
    assert lips is not None, "her lips are together in the first second"
    return lips


def _paint(image: np.ndarray, target: np.ndarray, lips: ClosedLips, share: float = 1.0) -> np.ndarray:
    h, w = image.shape[:2]
    patch = image.astype(np.float32)
    frame = ms.HeadFrame.from_points(target)
    lips.paint(patch, target, (0, 0, w, h), frame, share, target)
    return patch


def _unlike(image: np.ndarray, points: np.ndarray, reference: tuple[np.ndarray, np.ndarray]) -> float:
    """Mean absolute difference (of 255) between the lips of two frames, each brought to the
    canonical head frame, over the reference's outer lips and a little around them."""
    ref, ref_points = cut(*reference, _PPU)
    mask = np.zeros(ref.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(ref_points[list(ms.OUTER)]).astype(np.int32)], 1)
    inside = cv2.dilate(mask, np.ones((7, 7), np.uint8)) > 0
    crop, _ = cut(image, points, _PPU)
    return float(np.abs(crop[inside].astype(np.float32) - ref[inside]).mean())


def test_the_collector_keeps_a_closed_mouth(hairbun) -> None:
    collector = ClosedLipsCollector()
    for image, points in hairbun:
        collector.observe(image, points)
    collector.observe(hairbun[0][0], None)  # a frame without a face is passed over
    lips = collector.result()
    assert lips is not None
    most_closed = min(_gap(points) for _, points in hairbun)
    own = opening(lips.points.astype(np.float64) / ms.HeadFrame.from_points(lips.points).scale)
    assert own <= most_closed + 0.012
    assert lips.crop.dtype == np.uint8 and lips.crop.shape[2] == 3
    assert lips.crop.shape[:2] == crop_size(lips.ppu)


def test_a_mouth_that_never_closes_lends_no_lips(hairbun) -> None:
    collector = ClosedLipsCollector()
    for image, points in hairbun:
        collector.observe(image, ms.retarget(points, 0.2, 0.0))  # the same faces, mouths open
    assert collector.result() is None


def test_merging_pools_every_run_of_the_person(hairbun) -> None:
    runs = ClosedLipsCollector(), ClosedLipsCollector()
    for k, (image, points) in enumerate(hairbun):
        runs[k * 2 // len(hairbun)].observe(image, points)
    in_memory = ClosedLipsCollector.merged(list(runs)).result()
    spill = Spill()
    for run in runs:
        run.park(spill)  # each run ended: its candidates' crops left memory
    merged = ClosedLipsCollector.merged(list(runs)).result()
    assert merged is not None and in_memory is not None
    assert np.array_equal(merged.crop, in_memory.crop)
    kept = [candidate.crop.get() for run in runs for candidate in run._kept]
    assert any(np.array_equal(merged.crop, crop) for crop in kept)


def test_pressed_pale_lips_are_not_the_closed_mouth_lent(hairbun) -> None:
    """A press rolls the lips in and pales them (woman_flags' most closed frame showed a lipless
    mouth). Ten pressed frames, each as closed as her most closed one, lips painted the colour
    of her skin: the collector lends a mouth with her usual lip colour instead."""
    image, points = min(hairbun, key=lambda found: _gap(found[1]))
    pressed = image.copy()
    lips = np.vstack([points[list(ms.OUTER_UPPER)], points[list(ms.OUTER_LOWER)][::-1]])
    chin = points[list(ms.CHIN)].mean(axis=0).round().astype(int)  # skin below the lower lip
    skin = image[chin[1] - 3 : chin[1] + 4, chin[0] - 3 : chin[0] + 4].reshape(-1, 3).mean(axis=0)
    cv2.fillPoly(pressed, [np.round(lips).astype(np.int32)], skin.round().tolist())
    collector = ClosedLipsCollector()
    for k, (frame, frame_points) in enumerate(hairbun):
        collector.observe(frame, frame_points)
        if k % 12 == 0:
            collector.observe(pressed, points)
    lent = collector.result()
    assert lent is not None
    usual = lip_colour(*cut(image, points, lent.ppu))
    pale = lip_colour(*cut(pressed, points, lent.ppu))
    own = lip_colour(lent.crop, lent.points)
    assert np.linalg.norm(own - usual) < np.linalg.norm(own - pale) / 3


def test_closed_lips_laid_on_their_own_frame_are_their_own(hairbun) -> None:
    """On the landmarks they were cut from, the lips land on their own pixels: the warp is the
    identity there, only the crop's resampling differs."""
    lips = _closed_lips(hairbun)
    image, points = min(hairbun, key=lambda found: _gap(found[1]))
    painted = _paint(image, points, lips)
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(points[list(ms.OUTER)]).astype(np.int32)], 1)
    inside = mask > 0
    assert inside.sum() > 200
    error = np.abs(painted[inside] - image[inside].astype(np.float32)).mean()
    assert error < 8.0, f"mean error {error:.1f} of 255 on the lips"


def test_a_wide_open_mouth_shut_by_lite_looks_like_her_closed_mouth(hairbun) -> None:
    """Her widest frame shows teeth and a tongue. Shut by lite, its lips must look like her lips
    when she closes them, not like the squeezed teeth and tongue the warp alone leaves (which the
    test measures too, so it can fail)."""
    lips = _closed_lips(hairbun)
    image, points = max(hairbun, key=lambda found: _gap(found[1]))
    assert _gap(points) > 0.2, "her mouth is wide open in this frame"
    closed = sorted(hairbun, key=lambda found: _gap(found[1]))
    reference = closed[0]
    assert _unlike(*closed[1], reference) < 6.0, "her closed mouths look alike"

    def shut_by(sample: ClosedLips | None) -> float:
        out = image.copy()
        laid = None if sample is None else (sample, 1.0)
        paste(out, *render_mouth(image, points, MouthPose(gap=0.0, width=0.0), closed=laid))
        return _unlike(out, ms.retarget(points, 0.0, 0.0), reference)

    assert _unlike(image, points, reference) > 20.0
    assert shut_by(None) > 12.0, "squeezed shut by the warp alone, teeth and tongue show"
    assert shut_by(lips) < 8.0


def test_nothing_of_the_open_mouth_is_left_beside_the_lips_it_shut(hairbun) -> None:
    """The mesh's lips fall short of a wide-open mouth at its corners, and the warp moves only
    what the mesh found: shut by lite, her eight widest frames kept dark bits of the open mouth
    beside the closed lips, on 4.6% of the skin between where her lips were and where they are now
    (the sample laid over the target's lips only). The sample covers where the source's lips
    were too."""
    lips = _closed_lips(hairbun)
    widest = sorted(hairbun, key=lambda found: -_gap(found[1]))[:8]
    assert _gap(widest[-1][1]) > 0.35, "her widest frames are wide open"

    def dark_share(image: np.ndarray, points: np.ndarray) -> float:
        out = image.copy()
        paste(out, *render_mouth(image, points, MouthPose(gap=0.0, width=0.0), closed=(lips, 1.0)))
        scale = ms.HeadFrame.from_points(points).scale
        shape = image.shape[:2]
        was = distance_outside(points[list(LIPS_OUTER)], (0.0, 0.0), shape)
        now = distance_outside(ms.retarget(points, 0.0, 0.0)[list(LIPS_OUTER)], (0.0, 0.0), shape)
        between = (was <= 0.08 * scale) & (now > 0.03 * scale)
        grey = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).astype(np.float32)
        skin = float(np.median(grey[(now > 0.15 * scale) & (now < 0.3 * scale)]))
        return float((grey[between] < 0.75 * skin).mean())

    assert np.mean([dark_share(image, points) for image, points in widest]) < 0.02


def test_the_sample_is_laid_only_where_lite_shuts_an_open_mouth() -> None:
    def share(source: float, target: float) -> float:
        return float(shares(np.full(21, source), np.full(21, target))[10])

    assert share(0.03, 0.0) == 0.0  # a mouth barely open closes by the warp alone
    assert share(0.06, 0.0) == 1.0  # an open one closes onto the sample
    assert share(0.30, 0.10) == 0.0  # a target that stays open keeps its own lips
    assert 0.0 < share(0.30, 0.05) < share(0.30, 0.0)  # it fades out as the target opens
    assert share(np.nan, 0.0) == 0.0  # no face in the source frame


def test_the_sample_does_not_follow_the_old_speech_under_a_closed_target() -> None:
    """The source opens and shuts (old speech) under a closed target: the share holds at one
    instead of flickering between the sample's lips and the squeezed ones, or following how far
    the old mouth opened (which would show the old speech through the new closed mouth)."""
    flutter = np.where(np.arange(40) % 3 == 0, 0.3, 0.02)
    assert shares(flutter, np.zeros(40))[5:35].min() == 1.0
    wide, narrow = shares(np.full(40, 0.3), np.zeros(40)), shares(np.full(40, 0.08), np.zeros(40))
    assert np.array_equal(wide, narrow)
    assert shares(np.full(40, 0.02), np.zeros(40)).max() == 0.0
    alone = np.full(40, 0.02)
    alone[20] = 0.3  # one open source frame: the sample eases in and out around it
    eased = shares(alone, np.zeros(40))
    assert eased[16:25].min() == 1.0 and 0.0 < eased[12] < eased[14] < 1.0 and eased[:8].max() == 0.0


def test_the_lent_lips_take_the_light_of_the_mouth_they_are_laid_on(hairbun) -> None:
    """A shadow over the lower face only, the cheeks as lit as before: the lent lips and the skin
    laid with them darken with it. Matched on the whole cheeks, they kept their own light, and
    where a frame's own lips were fuller than the sample's a pale rim showed around the lips
    (woman_indoor in lite against new speech)."""
    lips = _closed_lips(hairbun)
    image, points = min(hairbun, key=lambda found: _gap(found[1]))
    scale = ms.HeadFrame.from_points(points).scale
    shade = np.ones(image.shape[:2], np.float32)
    shade[int(points[list(ms.OUTER)][:, 1].min() - 0.15 * scale):] = 0.7
    shade = cv2.GaussianBlur(shade, (0, 0), 0.05 * scale)
    shaded = np.clip(image * shade[..., None], 0, 255).astype(np.uint8)
    painted = _paint(shaded, points, lips)
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(points[list(ms.OUTER)]).astype(np.int32)], 1)
    around = cv2.dilate(mask, np.ones((9, 9), np.uint8)) > 0
    assert np.abs(painted[around] - shaded[around]).mean() < 10
