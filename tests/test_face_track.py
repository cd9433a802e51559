"""Face track stage: real clips, generated faces (scikit-image's astronaut) and the smoother alone."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from mediapipe.framework.formats import landmark_pb2
from skimage import data

from openlipsync.engine import face_track as ft
from openlipsync.engine.smoothing import contiguous_runs, smooth_run
from openlipsync.media.video import read_frames
from tests.conftest import shared_media

LIPS = list(ft.LIPS_OUTER + ft.LIPS_INNER)

# The astronaut's face, cut from skimage.data.astronaut() at rows 10:250, cols 120:330, and where
# her mouth is in that cut: read off the picture by eye, not from any landmark model.
_FACE_CUT = (slice(10, 250), slice(120, 330))
_MOUTH_IN_CUT = np.array([103.0, 134.0])


def face_frame(width: int, height: int, faces: list[tuple[float, float, float]], seed: int | None = None):
    """A grey canvas with the astronaut's face at each (centre x, centre y, scale), plus sensor noise
    when ``seed`` is given. Returns the frame and each face's mouth position."""
    canvas = np.full((height, width, 3), 96, np.uint8)
    mouths = []
    for cx, cy, scale in faces:
        face = cv2.resize(data.astronaut()[_FACE_CUT], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        fh, fw = face.shape[:2]
        x0, y0 = int(round(cx - fw / 2)), int(round(cy - fh / 2))
        xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + fw, width), min(y0 + fh, height)
        if xa < xb and ya < yb:
            canvas[ya:yb, xa:xb] = face[ya - y0 : yb - y0, xa - x0 : xb - x0]
        mouths.append(np.array([x0, y0]) + _MOUTH_IN_CUT * scale)
    if seed is not None:
        noise = np.random.default_rng(seed).integers(-7, 8, canvas.shape, dtype=np.int16)  # sd 4.3
        canvas = np.clip(canvas + noise, 0, 255).astype(np.uint8)
    return canvas, mouths


def face_clip(width: int, height: int, placements: list[list[tuple[float, float, float]]]):
    """Frames of ``face_frame`` with fresh noise each, one per entry of ``placements``; and the mouths."""
    frames, mouths = [], []
    for k, faces in enumerate(placements):
        frame, mouth = face_frame(width, height, faces, seed=k)
        frames.append(frame)
        mouths.append(mouth)
    return frames, mouths


def mouth_centre(points: np.ndarray) -> np.ndarray:
    return points[..., LIPS, :].mean(axis=-2)


def lip_jitter(points: np.ndarray) -> float:
    """Median frame-to-frame movement of the lip points, in % of the eye distance."""
    step = np.linalg.norm(np.diff(points[:, LIPS], axis=0), axis=-1).mean(axis=-1)
    return float(np.median(step / ft.eye_distance(points[1:])) * 100)


def clip_images(name: str, seconds: float | None = None) -> list[np.ndarray]:
    return [f.image for f in read_frames(shared_media(name), 0.0, seconds)]


def raw_points(images: list[np.ndarray]) -> np.ndarray:
    height, width = images[0].shape[:2]
    with ft.FaceTracker(width, height) as tracker:
        found = [tracker.update(image) for image in images]
    assert all(p is not None for p in found), "the mesh lost a face that is in every frame"
    return np.array(found)


def haar_face(image: np.ndarray) -> tuple[int, int, int, int]:
    """The largest face OpenCV's Haar cascade finds: a judge independent of MediaPipe."""
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    faces = cascade.detectMultiScale(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), 1.1, 5, minSize=(60, 60))
    assert len(faces), "the Haar cascade found no face to judge against"
    return tuple(max(faces, key=lambda f: f[2] * f[3]))


@pytest.mark.parametrize("name", ["man_map.mp4", "woman_flags.mp4"])
def test_real_clip_is_tracked_with_the_mouth_on_the_face(name):
    images = clip_images(name)
    height, width = images[0].shape[:2]
    done = []
    track = ft.track_faces(images, width, height, progress=done.append, expected_frames=len(images))
    assert done == list(range(1, len(images) + 1))
    assert track.points.shape == (len(images), 468, 2) and track.points.dtype == np.float32
    assert track.ok.mean() >= 0.95
    for k in (0, len(images) // 2, len(images) - 1):
        x, y, w, h = haar_face(images[k])
        mx, my = mouth_centre(track.points[k])
        assert x + 0.25 * w < mx < x + 0.75 * w, f"frame {k}: mouth x {mx:.0f} not mid-face {x}+{w}"
        assert y + 0.55 * h < my < y + 1.05 * h, f"frame {k}: mouth y {my:.0f} not low in the face {y}+{h}"
    eyes = track.inter_ocular()
    assert np.all(np.isfinite(eyes[track.ok])) and np.all((eyes[track.ok] > 40) & (eyes[track.ok] < 400))
    opening = ft.mouth_opening(track.points[track.ok])
    assert opening.min() >= 0.0 and opening.max() > 0.1, "a talking mouth should open"


def test_generated_face_lands_where_it_was_placed():
    frames, mouths = face_clip(640, 480, [[(300 + 4 * k, 250, 1.0)] for k in range(12)])
    track = ft.track_faces(frames, 640, 480)
    assert track.ok.all()
    err = np.linalg.norm(mouth_centre(track.points) - np.array([m[0] for m in mouths]), axis=1)
    assert err.max() < 8, f"mouth centre off by {err.max():.1f} px"


def test_no_face_gives_not_ok_and_no_error():
    blank = np.full((720, 1280, 3), 40, np.uint8)
    track = ft.track_faces([blank] * 4, 1280, 720)
    assert track.ok.tolist() == [False] * 4
    assert np.isnan(track.points).all() and np.isnan(track.inter_ocular()).all()


def test_face_arriving_after_a_long_absence_is_found_soon():
    # After a while without a face the tracker searches less often; not so rarely that it shows.
    blank = np.full((360, 640, 3), 40, np.uint8)
    frames, _ = face_clip(640, 360, [[(320, 180, 1.0)]] * 8)
    track = ft.track_faces([blank] * 30 + frames, 640, 360)
    assert not track.ok[:30].any()
    assert track.ok[30 + ft.LOST_SEARCH_EVERY :].all(), track.ok[30:].astype(int)


def test_face_that_leaves_and_returns():
    # Still, then sliding out to the right 30 px a frame, gone, then back in the middle.
    xs = [320] * 8 + [320 + 30 * k for k in range(1, 16)] + [2000] * 6 + [320] * 12
    frames, mouths = face_clip(640, 360, [[(x, 180, 1.0)] for x in xs])
    track = ft.track_faces(frames, 640, 360)
    inside = np.array([x + 105 <= 640 for x in xs])  # the whole 210 px wide face in the frame
    mouth_out = np.array([m[0][0] + 15 > 640 for m in mouths])  # the mouth's right corner past the edge
    back = xs.index(320, 10)
    assert track.ok[:back][inside[:back]].all()
    assert not track.ok[mouth_out].any()
    found = np.isfinite(track.points).all(axis=(1, 2))
    assert (found & ~track.ok).any(), "a face cut by the edge should be found yet flagged not ok"
    # Gone for 11 frames, past the tracker's patience: it searches every third frame by now.
    assert track.ok[back + ft.LOST_SEARCH_EVERY :].all(), f"not recovered: {track.ok[back:].astype(int)}"
    assert len(contiguous_runs(track.ok)) == 2
    # Smoothing starts afresh after the gap: nothing of the face's last place at the right edge.
    seen = slice(back + ft.LOST_SEARCH_EVERY, None)
    err = np.linalg.norm(mouth_centre(track.points[seen]) - np.array([m[0] for m in mouths[seen]]), axis=1)
    assert err.max() < 4, f"mouth off by {err.max():.1f} px after the return"


def test_speaker_is_the_big_central_face_and_stays_so():
    # A bystander at the left edge, the speaker in the middle, both still; then the speaker drifts.
    frames, mouths = face_clip(1280, 720, [[(160, 300, 0.8), (640 + 6 * k, 380, 1.4)] for k in range(15)])
    track = ft.track_faces(frames, 1280, 720)
    assert track.ok.all()
    speaker = np.array([m[1] for m in mouths])
    assert np.linalg.norm(mouth_centre(track.points) - speaker, axis=1).max() < 10


def test_small_face_in_a_large_frame_is_found():
    # Eyes ~15 px apart in 1280x720: too small for the short-range detector, even the full-range
    # detector on the whole frame misses it; the tiled search finds it.
    frames, mouths = face_clip(1280, 720, [[(900, 500, 0.35)]] * 10)
    track = ft.track_faces(frames, 1280, 720)
    assert track.ok.mean() >= 0.9
    assert np.nanmedian(track.inter_ocular()) < 20
    err = np.linalg.norm(mouth_centre(track.points[track.ok]) - mouths[0][0], axis=1)
    assert err.max() < 5


def test_small_face_of_the_hevc_portrait_clip():
    images = clip_images("man_kitchen_portrait_hevc.mp4", 2.0)
    assert images[0].shape == (1920, 1080, 3)
    track = ft.track_faces(images, 1080, 1920)
    assert track.ok.mean() >= 0.9
    x, y, w, h = haar_face(images[0])
    assert w < 400, "the face should be small in this frame"
    mx, my = mouth_centre(track.points[0])
    assert x < mx < x + w and y + 0.5 * h < my < y + 1.1 * h


def test_still_face_jitter_is_reduced_by_smoothing():
    # The same face every frame with fresh sensor noise: every lip movement is jitter.
    frames = [face_frame(1280, 720, [(640, 360, 1.5)], seed=k)[0] for k in range(40)]
    raw = raw_points(frames)
    track = ft.track_faces(frames, 1280, 720)
    assert track.ok.all()
    before, after = lip_jitter(raw), lip_jitter(track.points)
    assert before > 0.05, "the mesh should see the noise"
    assert after < 0.5 * before and after < 0.15, f"jitter {before:.3f}% -> {after:.3f}% of eye distance"


def test_smoothing_does_not_lag_a_real_opening():
    images = clip_images("woman_flags.mp4")
    raw = raw_points(images)
    smooth = np.empty_like(raw)
    smooth_run(raw, smooth, ft.eye_distance(raw))
    gap_raw, gap = ft.mouth_opening(raw), ft.mouth_opening(smooth)
    rise_raw, rise = np.diff(gap_raw), np.diff(gap)
    fastest = np.argsort(rise_raw)[-8:]
    assert rise_raw[fastest].min() > 0.03, "the clip should hold fast openings"
    # Every fast opening shows in the same frame, nearly in full.
    assert np.mean(rise[fastest] / rise_raw[fastest]) > 0.8
    lags = range(-2, 3)
    match = [np.dot(rise_raw[2:-2], np.roll(rise, lag)[2:-2]) for lag in lags]
    assert lags[int(np.argmax(match))] == 0


def test_smoother_follows_a_step_and_calms_noise():
    rng = np.random.default_rng(7)
    n, step_at = 60, 30
    base = rng.uniform(0, 100, (1, 468, 2))
    raw = np.repeat(base, n, axis=0) + rng.normal(0, 0.05, (n, 468, 2))  # eye distance 100 => 0.05%
    raw[step_at:, ft.LOWER_LIP_INNER_MID, 1] += 30.0  # mouth opens by 0.3 eye distances in one frame
    out = np.empty_like(raw)
    smooth_run(raw, out, np.full(n, 100.0))
    gap = out[:, ft.LOWER_LIP_INNER_MID, 1] - base[0, ft.LOWER_LIP_INNER_MID, 1]
    assert gap[step_at - 2] < 3 and gap[step_at] > 20 and gap[step_at + 1] > 27
    still = slice(0, 13)  # points that never move
    calm = np.abs(np.diff(out[:, still], axis=0)).mean() / np.abs(np.diff(raw[:, still], axis=0)).mean()
    assert calm < 0.4, f"still points keep {calm:.0%} of their jitter"


def test_smoothing_restarts_at_gaps():
    assert contiguous_runs(np.array([1, 1, 0, 1, 0, 0, 1, 1, 1], bool)) == [(0, 2), (3, 4), (6, 9)]
    assert contiguous_runs(np.zeros(3, bool)) == []
    raw = np.zeros((2, 4, 2))
    raw[1] = 50.0
    out = np.empty_like(raw)
    smooth_run(raw[:1], out[:1], np.ones(1))
    smooth_run(raw[1:], out[1:], np.ones(1))
    assert np.array_equal(out, raw), "a run of one frame must come out unchanged"


def test_point_store_grows_and_keeps_frames():
    store = ft.FrameStore(16)
    frames = [np.full((468, 2), k, np.float32) for k in range(40)]
    for k, frame in enumerate(frames):
        store.append(None if k == 5 else frame)
    stored = store.frames()
    # On disk, not the heap; but handed out as a plain ndarray, which is cheap to index.
    assert isinstance(stored.base, np.memmap) and type(stored) is np.ndarray
    assert stored.shape == (40, 468, 2)
    assert np.isnan(stored[5]).all()
    assert all((stored[k] == k).all() for k in range(40) if k != 5)


def test_landmark_reader_matches_field_by_field():
    points = np.random.default_rng(3).uniform(-1, 1, (468, 3)).astype(np.float32)
    proto = landmark_pb2.NormalizedLandmarkList()
    for x, y, z in points:
        proto.landmark.add(x=x, y=y, z=z)
    assert np.array_equal(ft._landmarks_xyz(proto), points)
    proto.landmark[7].visibility = 0.5  # changes the wire layout: the slow path must be taken
    assert np.array_equal(ft._landmarks_xyz(proto), points)


def test_tracker_rejects_a_frame_of_the_wrong_size():
    with ft.FaceTracker(640, 480) as tracker, pytest.raises(ValueError, match="480x640x3"):
        tracker.update(np.zeros((480, 641, 3), np.uint8))


def test_landmark_contours_follow_the_mesh_edges():
    import mediapipe as mp

    mesh = mp.solutions.face_mesh

    def closed_on(contour, edges):
        pairs = zip(contour, contour[1:] + contour[:1], strict=True)
        return all(frozenset(p) in {frozenset(e) for e in edges} for p in pairs)

    assert closed_on(ft.LIPS_OUTER, mesh.FACEMESH_LIPS) and closed_on(ft.LIPS_INNER, mesh.FACEMESH_LIPS)
    assert closed_on(ft.FACE_OVAL, mesh.FACEMESH_FACE_OVAL)
    assert closed_on(ft.LEFT_EYE, mesh.FACEMESH_LEFT_EYE) and closed_on(ft.RIGHT_EYE, mesh.FACEMESH_RIGHT_EYE)
    assert ft.JAW[0] == 454 and ft.JAW[-1] == 234 and ft.CHIN in ft.JAW
    assert set(ft.MOUTH_CORNERS) <= set(ft.LIPS_OUTER)
    assert {ft.UPPER_LIP_INNER_MID, ft.LOWER_LIP_INNER_MID} <= set(ft.LIPS_INNER)
    assert not set(ft.STABLE) & set(ft.LIPS_OUTER + ft.JAW[1:-1])


def test_usable_rules():
    frame, _ = face_frame(640, 480, [(320, 240, 1.0)])
    with ft.FaceTracker(640, 480) as tracker:
        points, yaw = tracker.update(frame), tracker.yaw_deg
    assert abs(yaw) < 10, "the astronaut looks into the camera"
    eyes = float(ft.eye_distance(points))
    centre = points.mean(axis=0)
    assert ft.usable(points, yaw, None, 640, 480)
    assert ft.usable(points, yaw, points + [0.3 * eyes, 0], 640, 480), "ordinary head motion"
    assert not ft.usable(points, 60.0, None, 640, 480), "turned too far from the camera"
    assert not ft.usable(points, yaw, points + [2 * eyes, 0], 640, 480), "jumped two eye distances"
    assert not ft.usable(points, yaw, (points - centre) / 1.6 + centre, 640, 480), "grew 1.6x in a frame"
    assert not ft.usable((points - centre) * 0.2 + centre, yaw, None, 640, 480), "eyes 9 px apart"
    at_edge = points - [points[list(ft.LIPS_OUTER), 0].min() - 2, 0]
    assert not ft.usable(at_edge, yaw, None, 640, 480), "mouth at the frame's edge"


def test_yaw_sign_flips_in_a_mirror():
    image = clip_images("man_map.mp4", 0.1)[0]
    yaws = []
    for view in (image, np.ascontiguousarray(image[:, ::-1])):
        with ft.FaceTracker(image.shape[1], image.shape[0]) as tracker:
            assert tracker.update(view) is not None
            yaws.append(tracker.yaw_deg)
    assert 5 < abs(yaws[0]) < 30, f"man_map's head is turned a little: {yaws[0]:.1f} deg"
    assert abs(yaws[0] + yaws[1]) < 4, f"mirror should flip the yaw: {yaws}"


def test_landmark_model_run_directly_agrees_with_mediapipes_graph():
    """The tracker runs MediaPipe's landmark model itself on the crop MediaPipe's own rule takes;
    its points must be the graph's (a half-pixel slip in the crop moved them by 1% of the eye
    distance), wherever the face sits, and a crop without a face must say so."""
    import mediapipe as mp

    from openlipsync.engine.mesh_model import MeshModel, Roi

    model = MeshModel()
    for cx, cy, scale in ((320, 180, 1.0), (250, 200, 0.6), (900, 500, 2.2)):
        image, _ = face_frame(1280, 720, [(cx, cy, scale)], seed=1)
        box = ft.Box(cx, cy, 2.2 * 240 * scale)
        with mp.solutions.face_mesh.FaceMesh(max_num_faces=1) as graph:
            # Tracking: the second call's crop comes from the first call's landmarks.
            first = ft.mesh_in(graph, image, box)
            assert first is not None
            theirs = ft.mesh_in(graph, image, box)[:, :2]
        ours = model.run(image, Roi.around(first))
        assert ours is not None
        off = np.linalg.norm(ours[:, :2] - theirs, axis=1).mean() / float(ft.eye_distance(theirs))
        assert off < 0.01, f"face at ({cx}, {cy}) x{scale}: {100 * off:.2f}% of the eye distance off"
    blank = np.full((720, 1280, 3), 96, np.uint8)
    assert model.run(blank, Roi((640.0, 360.0), 300.0, (1.0, 0.0))) is None
