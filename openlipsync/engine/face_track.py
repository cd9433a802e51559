"""Stage 2 of the engine: a smoothed 468-point face mesh per frame, and whether each frame is usable.

How a frame is tracked (``FaceTracker``):

* The mesh always runs on a crop around one face, never on the whole frame. One path then serves
  every face size (a face of 60 px in a 1080x1920 portrait and one of 1000 px in 4K both reach the
  model at 192 px), and it keeps the face's identity: the mesh only ever sees that face, so it
  cannot jump to a bystander.
* While a face is held, the landmark model runs directly (``mesh_model``) on the crop MediaPipe
  itself would take from the frame before's landmarks: 1.2 ms of model where MediaPipe's graph
  costs 2.1 ms, and a face's first sampling is its only one. A face is found, or found again
  after the model lost it, by MediaPipe's whole ``FaceMesh`` (its short-range detector, then the
  model) on a square crop around a detection.
* Faces are found by the full-range detector (``FaceFinder``; the mesh's own short-range detector
  misses faces under ~150 px) over the whole frame and, for small faces, over tiles of it. A
  crop around a detection goes to the mesh, whose own detector then finds the face, now large,
  in the crop (``_seed``). ``engine.people`` starts a tracker on every face it finds; a tracker that searches
  for itself (``track_faces``) follows the detection nearest the face last followed, or failing
  that the largest and most central one.

``track_faces`` runs one searching tracker over a clip of one person (a calibration clip, the
library's own pass), flags each frame usable or not (``usable``) and smooths each run of usable
frames (``smoothed_track``). Points live in temporary memory-mapped ``.npy`` files
(``FrameStore``), so a long clip costs disk pages the kernel can drop, not heap.
"""

from __future__ import annotations

import math
import os

os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's glog chatter; must precede the import

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import cv2
import mediapipe as mp
import numpy as np

from openlipsync.engine import pages
from openlipsync.engine.mesh_model import MeshModel, Roi
from openlipsync.engine.smoothing import contiguous_runs, smooth_run

NUM_LANDMARKS = 468

# Landmark indices of MediaPipe's 468-point mesh. Contours are ordered around the shape, closed.
# "Left"/"right" are the person's own: their left eye appears on the right of the image.
LIPS_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
LIPS_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
MOUTH_CORNERS = (61, 291)
UPPER_LIP_INNER_MID = 13
LOWER_LIP_INNER_MID = 14
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
NOSE_TIP = 1
CHIN = 152
#: Face outline, clockwise in the image from the top of the forehead (10).
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
#: The lower face outline, open: from the left cheek (454, image right) under the chin to the right (234).
JAW = FACE_OVAL[FACE_OVAL.index(454) : FACE_OVAL.index(234) + 1]
#: The cheek points level with the eyes, at the outline: right (image left) and left (image right).
CHEEKS = (234, 454)
#: Points that move with the head but not with the mouth or jaw: forehead, brow ridge, nose bridge,
#: eye corners and the outline beside the eyes. Fit a similarity or affine transform to them for the
#: head pose.
STABLE = (10, 151, 9, 8, 168, 6, 197, 195, 33, 133, 362, 263, 127, 356, 234, 454)

# Crop geometry (``FaceTracker``).
_MIN_CROP = 256  # px: smaller crops are upscaled to this
_MAX_CROP = 512  # px: larger crops are downscaled to this
_CROP_PER_LANDMARKS = 2.0  # crop side / longer side of the landmarks' bounding box
_CROP_PER_DETECTION = 2.2  # crop side / longer side of the detector's box (it omits the forehead)
_MIN_TILE = 192  # px: the full-range detector's input size; smaller tiles would gain nothing
# How often a frame without a face is searched (``search_due``), here and in ``engine.people``.
SEARCH_PATIENCE = 8  # frames without a face before the searches thin out
LOST_SEARCH_EVERY = 3  # ... to a whole-frame search every this many frames
DEEP_SEARCH_EVERY = 48  # frames between tiled searches while no face is found (~2 s)

# Usability (``usable``).
_MIN_EYE_DISTANCE_PX = 12.0  # below this the mouth is a few pixels: nothing to render
_LIP_MARGIN = 0.15  # lips must be this many eye distances inside the frame
_JAW_TOLERANCE = 0.1  # the jaw may reach this many eye distances past the frame's edge
_MAX_JUMP = 1.0  # eye distances the head may move between consecutive frames
_MAX_SCALE_JUMP = 1.4  # factor the eye distance may change between consecutive frames
#: Head yaw, from the depth of the mesh's two ``CHEEKS``. Past ~45 deg the far side of the mouth is
#: hidden and a warp cannot be right. (The 2-D nose-to-cheeks asymmetry is no substitute: rotating a
#: frontal mesh shows it peaks near 40 deg and falls again as the far cheek slips behind the nose.)
_MAX_YAW_DEG = 45.0


@dataclass
class LandmarkTrack:
    """The face of every frame of a clip, in frame pixels."""

    #: (N, 468, 2) float32 (x, y): smoothed on ok frames, raw where the mesh found a face that is not
    #: usable, NaN where it found none. May be a read-only memory map.
    points: np.ndarray
    #: (N,) bool: a usable face on that frame. Frames that are not ok must pass through untouched.
    ok: np.ndarray
    width: int
    height: int

    def inter_ocular(self) -> np.ndarray:
        """(N,) distance between the eye centres in pixels, NaN where not ok."""
        dist = eye_distance(self.points).astype(np.float32)
        dist[~self.ok] = np.nan
        return dist


def eye_distance(points: np.ndarray) -> np.ndarray:
    """Distance between the eye centres of (..., 468, 2) points: the face's scale, in their units."""
    left = points[..., LEFT_EYE, :].mean(axis=-2)
    right = points[..., RIGHT_EYE, :].mean(axis=-2)
    return np.linalg.norm(left - right, axis=-1)


def mouth_opening(points: np.ndarray) -> np.ndarray:
    """Inner lip gap (13 to 14) over the eye distance, for (..., 468, 2) points: 0 closed, ~0.3 wide."""
    gap = np.linalg.norm(points[..., UPPER_LIP_INNER_MID, :] - points[..., LOWER_LIP_INNER_MID, :], axis=-1)
    return gap / eye_distance(points)


def yaw_degrees(points3d: np.ndarray) -> float:
    """Head yaw of (468, 3) points whose depth is in the units of x and y; 0 is frontal."""
    across = points3d[CHEEKS[1]] - points3d[CHEEKS[0]]
    return float(np.degrees(np.arctan2(across[2], np.hypot(across[0], across[1]))))


# A NormalizedLandmarkList serialises each landmark as 17 bytes: field 1 (0x0a), length 15, then
# x, y, z as fixed32 floats behind tags 0x0d, 0x15, 0x1d. Reading that buffer with numpy costs 0.02 ms
# where walking 468 protobuf objects costs 0.3 ms, 6% of a frame.
_LANDMARK_RECORD = np.dtype(
    [("head", "u1", 3), ("x", "<f4"), ("ty", "u1"), ("y", "<f4"), ("tz", "u1"), ("z", "<f4")]
)
_LANDMARK_TAGS = ((0x0A, 0x0F, 0x0D), 0x15, 0x1D)


def _landmarks_xyz(landmark_list: object) -> np.ndarray:
    """(468, 3) float32 normalised x, y, z of a MediaPipe ``NormalizedLandmarkList``."""
    buffer = landmark_list.SerializeToString()
    if len(buffer) == NUM_LANDMARKS * _LANDMARK_RECORD.itemsize:
        rec = np.frombuffer(buffer, _LANDMARK_RECORD)
        head, ty, tz = _LANDMARK_TAGS
        if (rec["head"] == head).all() and (rec["ty"] == ty).all() and (rec["tz"] == tz).all():
            return np.stack([rec["x"], rec["y"], rec["z"]], axis=1)
    # Optional fields present (visibility, presence): the layout differs, read field by field.
    values = (v for lm in landmark_list.landmark for v in (lm.x, lm.y, lm.z))
    return np.fromiter(values, np.float32, 3 * NUM_LANDMARKS).reshape(NUM_LANDMARKS, 3)


@dataclass(frozen=True)
class Box:
    """A square in frame pixels."""

    cx: float
    cy: float
    side: float


def box_around(points: np.ndarray) -> Box:
    lo, hi = points.min(axis=0), points.max(axis=0)
    centre = (lo + hi) / 2
    return Box(float(centre[0]), float(centre[1]), _CROP_PER_LANDMARKS * float((hi - lo).max()))


class FaceTracker:
    """Stateful per-frame tracker: call update() on consecutive frames of one clip."""

    def __init__(self, width: int, height: int, start: Box | None = None, search: bool = True) -> None:
        """``start`` is a crop around a face someone else found (``FaceFinder``); with ``search``
        False the tracker never looks for a face itself: once it loses its face it stays lost."""
        if width <= 0 or height <= 0:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        self.width = int(width)
        self.height = int(height)
        self._seeder: mp.solutions.face_mesh.FaceMesh | None = None  # made when first needed
        self._model = MeshModel()
        self._finder = FaceFinder(self.width, self.height) if search else None
        self._crop: Box | None = start  # where to look for a face not yet held
        self._roi: Roi | None = None  # the model's crop for the next frame, while the face is held
        self._last: np.ndarray | None = None
        self._misses = 0  # consecutive frames without a face
        #: Head yaw in degrees (0 frontal) of the face the last update() returned; None without one.
        self.yaw_deg: float | None = None

    def update(self, image_rgb: np.ndarray) -> np.ndarray | None:
        """Raw (468, 2) float32 landmarks in frame pixels, or None when no face is found."""
        if image_rgb.shape != (self.height, self.width, 3) or image_rgb.dtype != np.uint8:
            raise ValueError(
                f"expected a {self.height}x{self.width}x3 uint8 RGB frame, "
                f"got {image_rgb.shape} {image_rgb.dtype}"
            )
        held = self._roi is not None  # the face was found on the frame before
        found = self._model.run(image_rgb, self._roi) if held else None
        if found is None:  # not held, or the model lost it: the whole mesh looks again
            seed = box_around(self._last) if held else self._crop
            found = self._seed(image_rgb, seed) if seed is not None else None
        if found is None and self._finder is not None:
            self._crop = self._find_speaker(image_rgb)
            found = self._seed(image_rgb, self._crop) if self._crop is not None else None
        if found is None:
            self._crop = None
            self._roi = None
            self.yaw_deg = None
            self._misses += 1
            return None
        self._misses = 0
        points = np.ascontiguousarray(found[:, :2])
        self.yaw_deg = yaw_degrees(found)
        self._crop = None  # only a face not yet held is sought in a given crop
        self._roi = Roi.around(points, self._last if held else None)
        self._last = points
        return points

    def close(self) -> None:
        if self._seeder is not None:
            self._seeder.close()
        if self._finder is not None:
            self._finder.close()

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _seed(self, image: np.ndarray, box: Box) -> np.ndarray | None:
        """Find the face in the square ``box`` of ``image`` with MediaPipe's whole ``FaceMesh`` (its
        detector, then the model): (468, 3) points in frame pixels, the depth (relative to the
        head's centre) in the same scale. Only for a face's first frame, or one the model lost."""
        if self._seeder is None:
            self._seeder = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=1, refine_landmarks=False, min_detection_confidence=0.5
            )
        return mesh_in(self._seeder, image, box)

    def _find_speaker(self, image: np.ndarray) -> Box | None:
        """Crop around the face to follow: the detection nearest the face last followed, or failing
        that the most prominent one (``prominence``); on the frames ``search_due`` says."""
        if not search_due(self._misses):
            return None
        boxes = self._finder.find(image, tiles=self._misses % DEEP_SEARCH_EVERY == 0)
        if not boxes:
            return None
        if self._last is not None:
            last = box_around(self._last)
            near = [b for b in boxes if np.hypot(b.cx - last.cx, b.cy - last.cy) < 0.75 * last.side]
            if near:
                return min(near, key=lambda b: np.hypot(b.cx - last.cx, b.cy - last.cy))
        return max(boxes, key=lambda b: prominence(b, self.width, self.height))


def square_crop(image: np.ndarray, box: Box) -> tuple[np.ndarray, tuple[int, int], int] | None:
    """The square ``box`` of ``image`` at a size MediaPipe's ``FaceMesh`` finds faces well in
    (``_MIN_CROP``-``_MAX_CROP`` px), black where it leaves the frame: (crop, its top-left corner in
    the frame, its side in frame pixels); None when the box has (almost) left the frame."""
    side = max(int(round(box.side)), 8)
    x0, y0 = int(round(box.cx - side / 2)), int(round(box.cy - side / 2))
    xa, ya = max(x0, 0), max(y0, 0)
    xb, yb = min(x0 + side, image.shape[1]), min(y0 + side, image.shape[0])
    if xb - xa < side / 4 or yb - ya < side / 4:
        return None
    size = min(max(side, _MIN_CROP), _MAX_CROP)
    # Shrinking big crops here, not inside the mesh (which samples its 192 px input without
    # antialiasing), cut lip jitter from ~0.36% to ~0.23% of the eye distance on a 613-787 px
    # crop. INTER_AREA antialiases best but costs ~3 ms; bilinear aliases little below 2x.
    if side > 2 * size:
        crop = cv2.copyMakeBorder(image[ya:yb, xa:xb], ya - y0, y0 + side - yb, xa - x0, x0 + side - xb,
                                  cv2.BORDER_CONSTANT, value=0)
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    else:
        # Cut, pad with black where the box leaves the frame, and scale in one pass over the
        # output pixels only (a padded copy then a resize cost 1.5 ms per 720p frame). The map
        # is resize's: output pixel centres onto input pixel centres.
        k = side / size
        to_image = np.array([[k, 0.0, x0 + k / 2 - 0.5], [0.0, k, y0 + k / 2 - 0.5]])
        crop = cv2.warpAffine(image, to_image, (size, size), borderMode=cv2.BORDER_CONSTANT,
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    return crop, (x0, y0), side


def mesh_in(mesh: mp.solutions.face_mesh.FaceMesh, image: np.ndarray, box: Box) -> np.ndarray | None:
    """Run a MediaPipe ``FaceMesh`` on the square ``box`` of ``image``: (468, 3) points in frame
    pixels, the depth (relative to the head's centre) in the same scale; None without a face."""
    cut = square_crop(image, box)
    if cut is None:
        return None  # the face has (almost) left the frame
    crop, (x0, y0), side = cut
    result = mesh.process(crop)
    if not result.multi_face_landmarks:
        return None
    norm = _landmarks_xyz(result.multi_face_landmarks[0])
    return norm * np.float32(side) + np.array([x0, y0, 0], np.float32)


def search_due(misses: int) -> bool:
    """Whether to search a frame after ``misses`` frames without a face: every frame at first (a
    face lost is likely back in a moment), then every ``LOST_SEARCH_EVERY``; a detector run costs
    about two mesh runs, and a clip without a face should not cost several times one with a face.
    Its tiles, for small faces, only every ``DEEP_SEARCH_EVERY``."""
    return misses < SEARCH_PATIENCE or misses % LOST_SEARCH_EVERY == 0


def prominence(box: Box, width: int, height: int) -> float:
    """How much a face is the subject of a frame: its size, discounted towards the edges."""
    half_diagonal = np.hypot(width, height) / 2
    off_centre = np.hypot(box.cx - width / 2, box.cy - height / 2) / half_diagonal
    return box.side * (1.0 - 0.7 * off_centre)


class FaceFinder:
    """The full-range detector (``model_selection=1``; the mesh's own short-range detector misses
    faces under ~150 px) over a whole frame and, for small faces, over tiles of it.

    The detector sees the frame shrunk to 192 px, so in a 1280x720 frame it misses faces under
    ~70 px; overlapping tiles of half the short side find faces down to ~25 px, at the cost of a
    detector run per tile.
    """

    def __init__(self, width: int, height: int) -> None:
        self._detector: mp.solutions.face_detection.FaceDetection | None = None  # made when first needed
        self._tiles = _tiles(width, height)

    def find(self, image: np.ndarray, tiles: bool = False) -> list[Box]:
        """Crops around the faces in ``image``; with ``tiles``, its tiles are searched too when the
        whole frame shows none."""
        if self._detector is None:
            self._detector = mp.solutions.face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=0.5
            )
        boxes = self._detect(image, 0, 0)
        if not boxes and tiles:
            for x, y, side in self._tiles:
                boxes += self._detect(image[y : y + side, x : x + side], x, y)
        return boxes

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()

    def _detect(self, image: np.ndarray, x0: int, y0: int) -> list[Box]:
        """Crops around the faces the detector finds in ``image``, which sits at (x0, y0) in the frame."""
        height, width = image.shape[:2]
        boxes = []
        for det in self._detector.process(np.ascontiguousarray(image)).detections or []:
            rel = det.location_data.relative_bounding_box
            cx, cy = x0 + (rel.xmin + rel.width / 2) * width, y0 + (rel.ymin + rel.height / 2) * height
            boxes.append(Box(cx, cy, _CROP_PER_DETECTION * max(rel.width * width, rel.height * height)))
        return boxes


def _tiles(width: int, height: int) -> list[tuple[int, int, int]]:
    """Square tiles (x, y, side) of half the short side, overlapping by a third, covering the frame;
    none for frames small enough that the detector sees them whole at half scale or better."""
    side = min(width, height) // 2
    if side < _MIN_TILE:
        return []

    def starts(length: int) -> list[int]:
        count = math.ceil((length - side) / (2 * side / 3)) + 1
        return [round(v) for v in np.linspace(0, length - side, count)]

    return [(x, y, side) for y in starts(height) for x in starts(width)]


def usable(points: np.ndarray, yaw_deg: float, previous: np.ndarray | None, width: int, height: int) -> bool:
    """Whether a renderer can trust ``points`` (468, 2); ``previous`` is the frame before's, if any."""
    eyes = float(eye_distance(points))
    if not _MIN_EYE_DISTANCE_PX <= eyes <= max(width, height):
        return False
    lips = points[list(LIPS_OUTER)]
    margin = _LIP_MARGIN * eyes
    if lips.min() < margin or (lips.max(axis=0) > [width - margin, height - margin]).any():
        return False
    jaw = points[list(JAW)]
    slack = _JAW_TOLERANCE * eyes
    if jaw.min() < -slack or (jaw.max(axis=0) > [width + slack, height + slack]).any():
        return False
    if abs(yaw_deg) > _MAX_YAW_DEG:
        return False
    if previous is not None:
        shift = np.linalg.norm(points[list(STABLE)].mean(axis=0) - previous[list(STABLE)].mean(axis=0))
        ratio = eyes / float(eye_distance(previous))
        if shift > _MAX_JUMP * eyes or not 1 / _MAX_SCALE_JUMP < ratio < _MAX_SCALE_JUMP:
            return False
    return True


class FrameStore:
    """Append-only (n, 468, 2) float32 frames in an unlinked temporary ``.npy`` memory map.

    Doubles its capacity when full. The file is unlinked as soon as it is mapped (POSIX), so it
    vanishes with the last reference to the array, whatever happens to the process.
    """

    def __init__(self, capacity: int) -> None:
        self.count = 0
        self.array = self._allocate(max(int(capacity), 16))

    @staticmethod
    def _allocate(capacity: int) -> np.ndarray:
        fd, path = tempfile.mkstemp(prefix="openlipsync-landmarks-", suffix=".npy")
        os.close(fd)
        try:
            return np.lib.format.open_memmap(
                path, mode="w+", dtype=np.float32, shape=(capacity, NUM_LANDMARKS, 2)
            )
        finally:
            os.unlink(path)

    def append(self, points: np.ndarray | None) -> None:
        self._reserve(self.count + 1)
        self.array[self.count] = np.nan if points is None else points
        self.count += 1
        if self.count % pages.EVERY == 0:
            pages.release(self.array)

    def extend(self, frames: np.ndarray) -> int:
        """Append (n, 468, 2) frames at once and give their pages back; returns the first's index."""
        first = self.count
        self._reserve(first + len(frames))
        self.array[first : first + len(frames)] = frames
        self.count += len(frames)
        pages.release(self.array)
        return first

    def _reserve(self, size: int) -> None:
        if size > len(self.array):
            bigger = self._allocate(max(size, 2 * len(self.array)))
            bigger[: self.count] = self.array[: self.count]
            self.array = bigger

    def frames(self) -> np.ndarray:
        """The frames so far as a plain ndarray view of the map: indexing a ``np.memmap`` wraps every
        result in a new memmap, which cost a render 0.7 s per 282 frames."""
        return np.asarray(self.array[: self.count])


def track_faces(
    frames: Iterable[np.ndarray],
    width: int,
    height: int,
    *,
    progress: Callable[[int], None] | None = None,
    expected_frames: int | None = None,
    observe: Callable[[np.ndarray, np.ndarray | None], None] | None = None,
) -> LandmarkTrack:
    """Track the speaker's face through ``frames`` (HxWx3 uint8 RGB, in order); never raises for a
    frame without a face. ``progress(done)`` is called after each frame; ``expected_frames`` sizes
    the point store up front (it grows if the clip is longer). ``observe(image, points)`` sees
    each frame with its raw landmarks (None without a usable face) while the image is at hand,
    so a later stage can keep what it needs of it without a second decode."""
    raw = FrameStore(expected_frames or 256)
    ok: list[bool] = []
    previous = None
    with FaceTracker(width, height) as tracker:
        for image in frames:
            points = tracker.update(image)
            ok.append(points is not None and usable(points, tracker.yaw_deg, previous, width, height))
            raw.append(points)
            previous = points
            if observe is not None:
                observe(image, points if ok[-1] else None)
            if progress is not None:
                progress(len(ok))
    return smoothed_track(len(ok), [(0, raw.frames(), np.array(ok, dtype=bool))], width, height)


def smoothed_track(frames: int, pieces: Iterable[tuple[int, np.ndarray, np.ndarray]],
                   width: int, height: int) -> LandmarkTrack:
    """The track of a clip of ``frames`` frames from ``pieces``: (first frame, raw points (n, 468,
    2), ok flags (n,)) of consecutive frames each, such as one face run. Each stretch of ok frames
    within a piece is smoothed on its own (smoothing across two pieces, a cut or two face runs
    joined end to end, would blend unrelated positions); frames outside the stretches keep their
    raw points, and frames in no piece are NaN and not ok. The pieces are read where they lie (a
    memory map stays one), so the clip's points exist once more, in the result's own map."""
    smoothed = FrameStore(frames)
    smoothed.count = frames
    out = smoothed.frames()
    pieces = list(pieces)
    covered = np.zeros(frames, bool)
    for first, _, flags in pieces:
        covered[first : first + len(flags)] = True
    for start, stop in contiguous_runs(~covered):
        out[start:stop] = np.nan
    pages.release(out)
    ok = np.zeros(frames, bool)
    for first, raw_points, flags in pieces:
        last = first + len(flags)
        ok[first:last] = flags
        scale = np.empty(len(flags), np.float32)
        for at in range(0, len(flags), pages.EVERY):  # a whole piece at once held both maps resident
            upto = min(at + pages.EVERY, len(flags))
            out[first + at : first + upto] = raw_points[at:upto]
            scale[at:upto] = eye_distance(raw_points[at:upto])
            pages.release(raw_points)
            pages.release(out)
        for start, stop in contiguous_runs(np.asarray(flags, dtype=bool)):
            smooth_run(raw_points[start:stop], out[first + start : first + stop], scale[start:stop])
    pages.release(out)
    out.flags.writeable = False
    return LandmarkTrack(points=out, ok=ok, width=int(width), height=int(height))
