"""The face tracker's own model path (engine/mesh_model.py) against MediaPipe's graph: the same
points in less time?

Every shared clip (up to its first 60 s; man_address_fr runs 60 s, for drift) is decoded once and
two trackers follow its face on the same frames:

* the engine's ``FaceTracker``: the landmark model run directly on the crop MediaPipe's own rule
  takes from the frame before's landmarks;
* the graph, as the engine ran it before: MediaPipe's ``FaceMesh`` in tracking mode on a square
  crop that follows the face, recut when the face moves 8% of the crop's side or changes size by
  18% (hysteresis, so a still head gives the graph the same pixels every frame).

Per clip: the frames both found a face on; the distance between their mouth and jaw points in %
of the eye distance (mean, 95th percentile, and the mean over the clip's last tenth against its
first, for drift); each one's lip jitter (mean absolute second difference of the lip midpoints and
corners, % of the eye distance: a still mouth scores its noise) and CPU milliseconds per frame.

    .venv/bin/python -m benchmarks.tracker
"""

from __future__ import annotations

import time

import mediapipe as mp
import numpy as np

from benchmarks.report import clip_rows, write_section
from openlipsync.engine.face_track import (
    JAW,
    LIPS_INNER,
    LIPS_OUTER,
    Box,
    FaceTracker,
    box_around,
    eye_distance,
    mesh_in,
)
from openlipsync.media.probe import probe_video
from openlipsync.media.video import read_frames

SECONDS = 60.0
_MOUTH_AND_JAW = list(dict.fromkeys(LIPS_OUTER + LIPS_INNER + JAW))
_JITTER_POINTS = [13, 14, 0, 17, 61, 291]  # inner and outer lip midpoints, corners


class GraphTracker:
    """MediaPipe's ``FaceMesh`` graph in tracking mode on a crop that follows one face."""

    def __init__(self, start: Box) -> None:
        self._mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1,
                                                     refine_landmarks=False, min_detection_confidence=0.5,
                                                     min_tracking_confidence=0.5)
        self._crop: Box | None = start

    def update(self, image: np.ndarray) -> np.ndarray | None:
        found = mesh_in(self._mesh, image, self._crop) if self._crop is not None else None
        if found is None:
            self._crop = None
            return None
        points = np.ascontiguousarray(found[:, :2])
        ideal, crop = box_around(points), self._crop
        moved = np.hypot(ideal.cx - crop.cx, ideal.cy - crop.cy) > 0.08 * crop.side
        if moved or not 1 / 1.18 < ideal.side / crop.side < 1.18:
            self._crop = ideal
        return points

    def close(self) -> None:
        self._mesh.close()


def _jitter(points: list[np.ndarray]) -> float:
    stack = np.stack(points)[:, _JITTER_POINTS]
    return float(np.abs(np.diff(stack, 2, axis=0)).mean() / np.median(eye_distance(np.stack(points))) * 100)


def _engine_pass(path, width: int, height: int) -> tuple[list[np.ndarray | None], float, int]:
    """The engine's points per frame, its CPU seconds and its calls. Each tracker gets a decode of
    its own, so neither's background threads bill the other."""
    points: list[np.ndarray | None] = []
    cpu = 0.0
    with FaceTracker(width, height) as tracker:
        for frame in read_frames(path, 0.0, SECONDS, None):
            mark = time.process_time()
            points.append(tracker.update(frame.image))
            cpu += time.process_time() - mark
    return points, cpu, len(points)


def measure(path) -> dict | None:
    info = probe_video(path)
    ours, cpu_engine, calls_engine = _engine_pass(path, info.width, info.height)
    first = next((k for k, p in enumerate(ours) if p is not None), None)
    if first is None:
        return None
    # The graph follows the face from the engine's first find, and starts again where it loses it.
    theirs, cpu_graph, calls_graph = [], 0.0, 0
    graph: GraphTracker | None = None
    try:
        for k, frame in enumerate(read_frames(path, 0.0, SECONDS, None)):
            if graph is None and ours[k] is not None:
                graph = GraphTracker(box_around(ours[k]))
            if graph is None:
                theirs.append(None)
                continue
            mark = time.process_time()
            found = graph.update(frame.image)
            cpu_graph += time.process_time() - mark
            calls_graph += 1
            theirs.append(found)
            if found is None:
                graph.close()
                graph = None
    finally:
        if graph is not None:
            graph.close()
    frames = len(ours)
    pairs = [(a, b) for a, b in zip(ours, theirs, strict=False) if a is not None and b is not None]
    if len(pairs) < 10:
        return None
    ours, theirs = np.stack([a for a, _ in pairs]), np.stack([b for _, b in pairs])
    error = (np.linalg.norm(ours[:, _MOUTH_AND_JAW] - theirs[:, _MOUTH_AND_JAW], axis=2).mean(axis=1)
             / eye_distance(theirs) * 100)
    tenth = max(len(error) // 10, 1)
    return {
        "frames": frames,
        "both": len(pairs),
        "mean": float(error.mean()),
        "p95": float(np.percentile(error, 95)),
        "first": float(error[:tenth].mean()),
        "last": float(error[-tenth:].mean()),
        "jitter_engine": _jitter([a for a, _ in pairs]),
        "jitter_graph": _jitter([b for _, b in pairs]),
        "ms_engine": cpu_engine / calls_engine * 1000,
        "ms_graph": cpu_graph / calls_graph * 1000,
    }


def main() -> None:
    def row(name: str, r: dict) -> str:
        return (f"| {name} | {r['both']} of {r['frames']} | {r['mean']:.2f} | {r['p95']:.2f} | "
                f"{r['first']:.2f} -> {r['last']:.2f} | "
                f"{r['jitter_graph']:.3f} -> {r['jitter_engine']:.3f} | "
                f"{r['ms_graph']:.2f} -> {r['ms_engine']:.2f} | {r['ms_engine'] / r['ms_graph']:.2f}x |")

    rows = clip_rows(measure, row, 7)
    body = f"""The engine's tracker (the landmark model run directly, `engine/mesh_model.py`) against
MediaPipe's `FaceMesh` graph on a crop that follows the face (the engine's tracker before), on the
same decoded frames of every shared clip (first {SECONDS:g} s). Error: the mean distance of the
mouth and jaw points between the two, % of the eye distance; drift: that error over the clip's
first tenth -> its last. Jitter: mean absolute second difference of the lip midpoints and corners,
% of the eye distance (graph -> engine). CPU ms per frame of each tracker alone, decoding excluded
(graph -> engine).

| clip | frames (both) | error mean | error p95 | drift: first -> last | lip jitter | CPU ms/frame | ratio |
|---|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}
"""
    write_section("tracker", "Face tracker: the model run directly vs MediaPipe's graph", body,
                  "python -m benchmarks.tracker")


if __name__ == "__main__":
    main()
