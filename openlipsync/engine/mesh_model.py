"""MediaPipe's face landmark model, run directly on a crop the tracker cuts from the frame.

Why not MediaPipe's ``FaceMesh`` for every frame: its graph costs 2.1 ms a call on a 192 px crop
where the model inside it costs 1.2 ms (this machine); the rest is packets, copies and the graph's
own threads. And the tracker had to hand it a crop, which the graph then resampled again into the
model's input. Here the face is resampled once, straight from the frame, and ``invoke`` releases
the GIL, so the meshes of several faces run on both cores.

The crop follows MediaPipe's own rule for a face it is tracking (``face_landmark_landmarks_to_roi``):
the landmarks' bounding box of the frame before, 1.5 times its longer side, turned so the eyes are
level; a face whose presence score drops below 0.5 is lost, as MediaPipe's ``min_tracking_confidence``
decides. On the shared clips the points come out within 0.06-0.4% of the eye distance of
``FaceMesh``'s, and no more jittery. Finding a face in the first place stays with ``FaceMesh``
(its detector), see ``face_track.FaceTracker``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import mediapipe as mp
import numpy as np
from ai_edge_litert.interpreter import Interpreter

#: The model file MediaPipe ships in its wheel: the same weights ``FaceMesh`` runs.
MODEL_PATH = Path(mp.__file__).parent / "modules" / "face_landmark" / "face_landmark.tflite"
_SIZE = 192  # the model's input side in pixels
_ROI_SCALE = 1.5  # crop side over the longer side of the landmarks' bounding box
_MIN_PRESENCE = 0.5
#: Frame pixels per model pixel above which the crop is first shrunk by halving (``cv2.pyrDown``,
#: which low-passes): bilinear sampling at larger steps aliases, and the lips jitter.
_MAX_STEP = 2.0
#: Off-centre distance (over the crop's side) of a face found in a crop, past which the model looks
#: again: up to ~10% it places the face within 1% of the side.
_RECUT = 0.08
_STILL = 0.03
_LEFT_EYE_OUTER, _RIGHT_EYE_OUTER = 263, 33


@dataclass(frozen=True)
class Roi:
    """The model's crop: a square of ``side`` frame pixels around ``centre``, its x axis along
    ``axis`` (a unit vector in the frame)."""

    centre: tuple[float, float]
    side: float
    axis: tuple[float, float]

    @classmethod
    def around(cls, points: np.ndarray, previous: np.ndarray | None = None) -> Roi:
        """MediaPipe's crop for the frame after one whose landmarks are ``points`` (468, 2+), moved
        on by the step from ``previous`` (the landmarks of the frame before) to ``points``: the
        model places a face it sees off its crop's centre only part of the way (a crop 20% of its
        side off finds the mouth 7% of the side short), so a face moving steadily has to be met
        where it will be, not where it was. Steps under ``_STILL`` of the side are the mesh's own
        jitter, not motion: following them moved the crop of a still head every frame and
        tripled its lip jitter."""
        lo, hi = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
        eyes = points[_LEFT_EYE_OUTER, :2] - points[_RIGHT_EYE_OUTER, :2]
        length = float(np.hypot(*eyes))
        axis = (1.0, 0.0) if length == 0 else (float(eyes[0]) / length, float(eyes[1]) / length)
        centre, side = (lo + hi) / 2, _ROI_SCALE * float((hi - lo).max())
        if previous is not None:
            step = centre - (previous[:, :2].min(axis=0) + previous[:, :2].max(axis=0)) / 2
            if np.hypot(*step) > _STILL * side:
                centre = centre + step
        return cls((float(centre[0]), float(centre[1])), side, axis)

    def off_centre(self, points: np.ndarray) -> float:
        """How far the landmarks' box centre is from this crop's, over its side."""
        lo, hi = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
        return float(np.hypot(*((lo + hi) / 2 - np.array(self.centre)))) / self.side


class MeshModel:
    """One interpreter of the landmark model; not thread-safe, so one per face."""

    def __init__(self) -> None:
        self._interpreter = Interpreter(model_path=str(MODEL_PATH), num_threads=1)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = self._interpreter.get_output_details()
        self._points = next(o["index"] for o in outputs if o["shape"][-1] == 3 * 468)
        self._presence = next(o["index"] for o in outputs if o["shape"][-1] == 1)

    def run(self, image: np.ndarray, roi: Roi) -> np.ndarray | None:
        """(468, 3) float32 landmarks in frame pixels (depth in the same scale, relative to the
        head's centre) of the face in ``roi`` of ``image`` (HxWx3 uint8 RGB), or None when the
        model finds no face there. A face found well off the crop's centre (a sudden move) is
        looked at once more, centred."""
        points = self._once(image, roi)
        if points is not None and roi.off_centre(points) > _RECUT:
            points = self._once(image, Roi.around(points))
        return points

    def _once(self, image: np.ndarray, roi: Roi) -> np.ndarray | None:
        crop = self._crop(image, roi)
        self._interpreter.set_tensor(self._input, crop[None])
        self._interpreter.invoke()
        logit = float(self._interpreter.get_tensor(self._presence).ravel()[0])
        if logit < np.log(_MIN_PRESENCE / (1 - _MIN_PRESENCE)):
            return None
        raw = self._interpreter.get_tensor(self._points).reshape(468, 3)
        step = roi.side / _SIZE
        ux, uy = np.array(roi.axis), np.array([-roi.axis[1], roi.axis[0]])
        xy = raw[:, :2] - _SIZE / 2
        points = np.empty((468, 3), np.float32)
        points[:, :2] = np.array(roi.centre) + step * (np.outer(xy[:, 0], ux) + np.outer(xy[:, 1], uy))
        points[:, 2] = raw[:, 2] * step
        return points

    @staticmethod
    def _crop(image: np.ndarray, roi: Roi) -> np.ndarray:
        """The model's input: ``roi`` sampled at 192x192, values 0-1. Model pixel (u, v) sits at
        ``centre + step * ((u - 96) * axis + (v - 96) * normal)``, MediaPipe's convention."""
        step = roi.side / _SIZE
        centre = np.array(roi.centre)
        source, origin, scale = image, np.zeros(2), 1.0
        if step > _MAX_STEP:
            # Cut the region the rotated square can reach, then halve it until the step is small.
            reach = 0.75 * roi.side + 2
            height, width = image.shape[:2]
            x0, y0 = max(int(centre[0] - reach), 0), max(int(centre[1] - reach), 0)
            x1, y1 = min(int(centre[0] + reach) + 1, width), min(int(centre[1] + reach) + 1, height)
            if x1 - x0 >= 2 and y1 - y0 >= 2:
                source, origin = image[y0:y1, x0:x1], np.array([x0, y0], float)
                while step * scale > _MAX_STEP and min(source.shape[:2]) >= 4:
                    source = cv2.pyrDown(source)
                    scale /= 2
        # pyrDown's pixel i sits on its input's pixel 2i, so a point's coordinates just scale.
        k = step * scale
        ux, uy = np.array(roi.axis) * k, np.array([-roi.axis[1], roi.axis[0]]) * k
        corner = (centre - origin) * scale - (ux + uy) * (_SIZE / 2)
        to_source = np.array([[ux[0], uy[0], corner[0]], [ux[1], uy[1], corner[1]]])
        crop = cv2.warpAffine(source, to_source, (_SIZE, _SIZE), borderMode=cv2.BORDER_CONSTANT,
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        return crop.astype(np.float32) * np.float32(1 / 255)
