"""The lite renderer's geometry on a real face: the mouth goes where it is told, nothing else moves."""

from __future__ import annotations

import os

import numpy as np
import pytest

from openlipsync.engine import mouth_shape as ms
from openlipsync.engine.composite import paste
from openlipsync.engine.face_track import LandmarkTrack
from openlipsync.engine.lite import LiteRenderer, MouthPose, render_mouth
from openlipsync.engine.speech import analyse_speech
from openlipsync.engine.warp import displacement
from openlipsync.media.audio import iter_audio
from tests import generate
from tests.faces import meshed_frames

os.environ.setdefault("GLOG_minloglevel", "2")


@pytest.fixture(scope="module")
def face() -> tuple[np.ndarray, np.ndarray]:
    """The frame of woman_flags.mp4's first 2 s where her lips are closest, with its landmarks."""
    faces = [(ms.inner_gap(points), image, points) for image, points in meshed_frames("woman_flags.mp4", 50)
             if points is not None]
    gap, image, points = min(faces, key=lambda found: found[0])
    assert gap < 0.05, "woman_flags.mp4 must show closed lips in its first 2 s"
    return image, points


def test_head_frame_round_trip(face):
    _, points = face
    frame = ms.HeadFrame.from_points(points)
    canon = frame.to_canonical(points)
    assert np.allclose(frame.to_image(canon), points, atol=1e-3)
    eyes = canon[list(ms.RIGHT_EYE)].mean(0), canon[list(ms.LEFT_EYE)].mean(0)
    assert np.allclose(eyes[0], (-0.5, 0), atol=1e-6) and np.allclose(eyes[1], (0.5, 0), atol=1e-6)
    assert canon[ms.LOWER_MID, 1] > 0.5, "the mouth lies below the eyes in the canonical frame"


@pytest.mark.parametrize("gap", [0.0, 0.1, 0.25])
def test_retarget_reaches_the_requested_gap(face, gap):
    _, points = face
    moved = ms.retarget(points, gap, 0.0)
    assert ms.inner_gap(moved) == pytest.approx(gap, abs=0.01)
    stable = [i for i in range(468) if i not in ms.MOVING]
    assert np.array_equal(moved[stable], points[stable].astype(np.float32)) or np.allclose(
        moved[stable], points[stable], atol=1e-3
    )


def test_width_spreads_and_rounds(face):
    _, points = face

    def mouth_width(p: np.ndarray) -> float:
        return float(np.linalg.norm(p[ms.CORNERS[1]] - p[ms.CORNERS[0]]))

    assert mouth_width(ms.retarget(points, 0.1, 1.0)) > mouth_width(ms.retarget(points, 0.1, 0.0))
    assert mouth_width(ms.retarget(points, 0.1, -1.0)) < mouth_width(ms.retarget(points, 0.1, 0.0))


def test_rest_lips_keep_a_held_smile_but_not_the_old_speech(face):
    """A smile held for seconds stays on the rest lips (the person's expression is not the old
    speech's to take away); corners that move with every syllable are the old speech and do not."""
    _, points = face
    frame = ms.HeadFrame.from_points(points)
    count, smile_from = 400, 200
    canon = np.repeat(frame.to_canonical(points)[None], count, axis=0)
    right, left = ms.CORNERS
    canon[smile_from:, right] += (-0.05, -0.02)  # wider and raised: a smile
    canon[smile_from:, left] += (0.05, -0.02)
    canon[::3, right, 0] -= 0.04  # a syllable every 3 frames pulls the corners apart
    canon[::3, left, 0] += 0.04
    track = np.stack([frame.to_image(c) for c in canon]).astype(np.float32)
    rest = ms.rest_lips(track, np.ones(count, bool), frame_rate=30)
    corners = [ms.LIPS.index(right), ms.LIPS.index(left)]

    def width(k: int) -> float:
        lips = rest.at(k)
        return float(lips[corners[1], 0] - lips[corners[0], 0])

    assert width(320) - width(80) > 0.09, "the held smile was lost"
    syllables = [abs(width(k + 1) - width(k)) for k in range(60, 340)]
    assert max(syllables) < 0.006, "the old speech's corners show through"


def test_warp_is_exact_at_control_points_and_smooth_between():
    rng = np.random.default_rng(0)
    dst = rng.integers(10, 190, size=(30, 2)).astype(np.float64)
    src = dst + rng.normal(0, 3, size=dst.shape)
    exact = displacement(dst, src, (0, 0, 200, 200), step=1, smoothing=0.0)
    coarse = displacement(dst, src, (0, 0, 200, 200), step=10, smoothing=0.0)
    for d, s in zip(dst.astype(int), src, strict=True):
        assert np.allclose(exact[d[1], d[0]], s - d, atol=0.05)
    assert np.abs(coarse - exact).mean() < 0.25, "the coarse grid must approximate the exact spline"


def test_render_changes_only_the_lower_face(face):
    image, points = face
    out = image.copy()
    patch, box, alpha = render_mouth(out, points, MouthPose(gap=0.28, width=0.0))
    paste(out, patch, box, alpha)
    changed = np.any(out != image, axis=2)
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 500, "an open target must change the mouth"
    eye_y = points[list(ms.RIGHT_EYE + ms.LEFT_EYE), 1].mean()
    assert ys.min() > eye_y, "nothing at or above the eyes may change"
    x0, y0, x1, y1 = box
    assert xs.min() >= x0 and xs.max() < x1 and ys.min() >= y0 and ys.max() < y1


def test_open_target_shows_a_dark_mouth_where_closed_shows_lips(face):
    image, points = face

    def luma(gap: float, where) -> float:
        out = image.copy()
        paste(out, *render_mouth(out, points, MouthPose(gap=gap, width=0.0)))
        x, y = np.round(where(ms.retarget(points, gap, 0.0))).astype(int)
        return float(out[y - 2 : y + 3, x - 3 : x + 4].mean())

    cavity = luma(0.3, lambda p: 0.5 * p[ms.UPPER_MID] + 0.5 * p[ms.LOWER_MID])  # the back of the mouth
    lower_lip = luma(0.0, lambda p: 0.5 * p[ms.LOWER_MID] + 0.5 * p[17])
    assert cavity < 0.6 * lower_lip, (cavity, lower_lip)


def test_a_painted_mouth_has_both_rows_of_teeth_and_a_tongue(face):
    """Her clip never shows an open mouth, so lite paints one. Opened wide, it must read as a mouth:
    upper teeth under the upper lip, lower teeth over the lower lip, a red tongue behind them and
    a dark throat between; and the upper row must show teeth (darker where two meet), not a stripe."""
    image, points = face
    out = image.copy()
    paste(out, *render_mouth(out, points, MouthPose(gap=0.3, width=0.0)))
    target = ms.retarget(points, 0.3, 0.0)
    frame = ms.HeadFrame.from_points(target)
    down = frame.axes[1] * frame.scale  # one inter-ocular unit down the face, in pixels

    def rgb(at: np.ndarray) -> np.ndarray:
        x, y = np.round(at).astype(int)
        return out[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).astype(np.float32).mean(0)

    upper, lower = target[ms.UPPER_MID], target[ms.LOWER_MID]
    throat = rgb((upper + lower) / 2).mean()
    upper_teeth = rgb(upper + 0.03 * down).mean()
    lower_teeth = rgb(lower - 0.015 * down).mean()
    tongue = rgb(lower - 0.06 * down)
    assert upper_teeth > 3 * throat and lower_teeth > 2 * throat, (upper_teeth, lower_teeth, throat)
    assert tongue.mean() > 1.5 * throat and tongue[0] > tongue[1] + 40, (tongue, throat)
    # Along the upper row, one tooth's width (0.13 inter-ocular units) either side of the centre.
    across = frame.axes[0] * frame.scale
    row = [rgb(upper + 0.03 * down + t * across).mean() for t in np.linspace(-0.13, 0.13, 27)]
    assert min(row) < 0.93 * max(row), row


@pytest.fixture(scope="module")
def teeth() -> list[tuple[np.ndarray, np.ndarray]]:
    """Frames 1-4 of woman_indoor.mp4: mouth open 9-18% of the eye distance, upper teeth showing."""
    found = meshed_frames("woman_indoor.mp4", 5)[1:]
    assert all(points is not None for _, points in found), "woman_indoor.mp4 opens on her face"
    return found


def test_a_closed_mouth_shows_no_teeth_between_the_lips(teeth):
    """Closing a mouth that shows teeth must not leave them as a pale line where the lips meet."""
    for image, points in teeth:
        assert ms.inner_gap(points) > 0.08
        out = image.copy()
        paste(out, *render_mouth(out, points, MouthPose(gap=0.0, width=0.0)))
        target = ms.retarget(points, 0.0, 0.0)
        upper, lower = target[list(ms.INNER_UPPER)], target[list(ms.INNER_LOWER)]
        seam = ((upper + lower) / 2)[3:8]  # the middle of the lip line
        lip = ((target[list(ms.OUTER_LOWER)] + lower) / 2)[3:8]  # the lower lip's body below it
        luma = out.astype(np.float32).mean(axis=2)
        at = [luma[int(round(y)), int(round(x))] for x, y in np.vstack([seam, lip])]
        assert max(at[:5]) < np.mean(at[5:]), f"seam {np.round(at[:5])}, lip {np.round(at[5:])}"


def test_a_closed_mouth_that_stays_closed_is_left_untouched(face, tmp_path):
    """woman_flags' closest-lipped frame, held for 2 s. Over silence no frame needs re-rendering (a
    warp would only soften the lips); over speech the frames around each opening are, fading in."""
    image, points = face
    assert ms.inner_gap(points) < 0.04
    count = 30
    track = LandmarkTrack(points=np.repeat(points[None], count, axis=0), ok=np.ones(count, bool),
                          width=image.shape[1], height=image.shape[0])
    times = np.arange(count) / 15
    quiet, loud = generate.silence_wav(tmp_path / "quiet.wav", 2.0), tmp_path / "loud.wav"
    generate.speech_wav(loud, "Papa saw a large yacht.")
    for audio, still in ((quiet, True), (loud, False)):
        targets = analyse_speech(iter_audio(audio, rate=16000), 16000, times)
        renderer = LiteRenderer(track, targets, frame_rate=15)
        drawn = [renderer.render(image, points, k) for k in range(count)]
        if still:
            assert all(d is None for d in drawn)
        else:
            assert sum(d is not None for d in drawn) > 10
            assert ((renderer.amount > 0.01) & (renderer.amount < 0.99)).any(), "no fade into the warp"
    # Closed lips that move (the old speech with the mouth shut) are re-rendered still.
    moving = track.points.copy()
    moving[1::2, list(ms.LIPS), 1] += 0.03 * ms.HeadFrame.from_points(points).scale
    track = LandmarkTrack(points=moving, ok=track.ok, width=track.width, height=track.height)
    renderer = LiteRenderer(track, analyse_speech(iter_audio(quiet, rate=16000), 16000, times), frame_rate=15)
    assert (renderer.amount > 0.99).all()


def _luma_at(luma: np.ndarray, where: np.ndarray) -> float:
    x, y = np.round(where).astype(int)
    return float(luma[y - 1 : y + 2, x - 2 : x + 3].mean())


def test_opening_wider_keeps_the_teeth_on_their_jaws(teeth):
    """A mouth that shows teeth, opened wider: the upper teeth stay under the upper lip and a dark
    cavity opens in the middle, rather than the teeth stretching (grey) across the new gap."""
    for image, points in teeth:
        source_gap = ms.inner_gap(points)
        out = image.copy()
        paste(out, *render_mouth(out, points, MouthPose(gap=0.4, width=0.0)))
        target = ms.retarget(points, 0.4, 0.0)
        frame = ms.HeadFrame.from_points(target)
        luma = out.astype(np.float32).mean(axis=2)
        upper_teeth = _luma_at(luma, target[ms.UPPER_MID] + frame.axes[1] * source_gap / 4 * frame.scale)
        centre = _luma_at(luma, (target[ms.UPPER_MID] + target[ms.LOWER_MID]) / 2)
        assert upper_teeth > 150 and centre < 35, (upper_teeth, centre)


def test_teeth_are_told_from_a_dark_mouth(teeth):
    """Teeth the source shows are kept on their jaws; a dark opening is painted instead."""
    import cv2

    from openlipsync.engine.lite import _teeth_showing

    for image, points in teeth:
        frame, gap = ms.HeadFrame.from_points(points), ms.inner_gap(points)
        canon = frame.to_canonical(points)
        assert _teeth_showing(image, canon, frame, gap)[0], "her upper teeth show"
        dark = image.copy()
        inside = ms.inner_contour(points)
        cv2.fillPoly(dark, [np.round(inside).astype(np.int32)], (40, 15, 18))
        assert _teeth_showing(dark, canon, frame, gap) == (False, False)


@pytest.fixture(scope="module")
def smile() -> list[tuple[np.ndarray, np.ndarray]]:
    """Frames 142-144 of woman_indoor.mp4: the mesh puts her inner lower lip on the upper edge of
    her lower teeth, so they lie inside the tracked lip."""
    found = meshed_frames("woman_indoor.mp4", 145)[142:]
    assert all(points is not None for _, points in found), "woman_indoor.mp4 shows her face there"
    return found


def test_teeth_inside_the_tracked_lower_lip_stay_out_of_the_moved_lip(smile):
    """Narrowing her mouth must not carry her lower teeth along as a white band in the lower lip:
    the lip's inner part ends up lit like the rest of the lip (1.37 times as bright, on average,
    before the teeth were told from the lip). woman_flags' glossy pink lip, brighter at its inner
    edge but as saturated, is not taken for teeth."""
    from openlipsync.engine.lite import _TEETH_CONTRAST

    ratios = []
    for image, points in smile:
        frame = ms.HeadFrame.from_points(points)
        assert ms.teeth_in_lower_lip(image, frame.to_canonical(points), frame.to_image, _TEETH_CONTRAST) > 0
        gap = ms.inner_gap(points)
        out = image.copy()
        paste(out, *render_mouth(out, points, MouthPose(gap=gap / 2, width=0.0)))
        target = ms.retarget(points, gap / 2, 0.0)
        lower, rim = target[list(ms.INNER_LOWER)][3:8], target[list(ms.OUTER_LOWER)][3:8]
        luma = out.astype(np.float32).mean(axis=2)
        inner, body = (np.mean([_luma_at(luma, at) for at in lower + share * (rim - lower)])
                       for share in (0.2, 0.8))
        ratios.append(inner / body)
    assert np.mean(ratios) < 1.15, np.round(ratios, 2)
    for image, points in meshed_frames("woman_flags.mp4", 48)[44:]:  # parted, no lower teeth showing
        frame = ms.HeadFrame.from_points(points)
        assert ms.teeth_in_lower_lip(image, frame.to_canonical(points), frame.to_image, _TEETH_CONTRAST) == 0
