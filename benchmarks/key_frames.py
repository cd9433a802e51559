"""Could the tracker run its face mesh on key frames only? The error of three cheaper paths
against the mesh run on every frame (issue 15's tracking-error table).

Every shared clip (up to its first 60 s) is tracked with the mesh on every frame (the engine's
``FaceTracker``, raw points). The mesh then stands on every second frame, and each frame between two
key frames is filled in by:

* **interpolation**: the mean of its two key frames' points;
* **optical flow**: pyramidal Lucas-Kanade moving the key frame before's mouth and jaw points onto
  it, on grey levels of the face's region only (its cost is measured: conversion and flow);
* **motion-adaptive**: interpolation where the mouth and jaw moved less than ``STILL`` of the eye
  distance between the two key frames, the mesh itself where they moved more (the mesh "run again
  whenever the cheap path is unsure"). Its error is over all frames, meshed ones included (zero).

Error: the distance of each mouth and jaw point from the mesh's, % of the eye distance, 95th
percentile over every (frame, point) of the frames filled in (the issue's bar: 1.5). The key
frames' points are the every-frame mesh's, so this is the best each path can do: a real key-frame
mesh would also start from a crop two frames old.

    .venv/bin/python -m benchmarks.key_frames
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from benchmarks.report import clip_rows, write_section
from openlipsync.engine.face_track import JAW, LIPS_INNER, LIPS_OUTER, FaceTracker, eye_distance
from openlipsync.media.probe import probe_video
from openlipsync.media.video import read_frames

SECONDS = 60.0
STILL = 0.02  # mouth and jaw movement between key frames (of the eye distance) below which they interpolate
BAR = 1.5  # % of the eye distance, 95th percentile (issue 15)
_MOUTH_AND_JAW = list(dict.fromkeys(LIPS_OUTER + LIPS_INNER + JAW))
_FLOW = {"winSize": (21, 21), "maxLevel": 3}


def _region(points: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """The mouth and jaw points' box grown by half its size each way, clipped to the frame."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = 0.5 * (hi - lo)
    x0, y0 = np.maximum(lo - pad, 0).astype(int)
    x1, y1 = np.minimum(hi + pad, [width - 1, height - 1]).astype(int) + 1
    return x0, y0, x1, y1


def _flow(before: np.ndarray, after: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, float]:
    """Lucas-Kanade from ``before`` to ``after`` (RGB frames) of ``points`` (n, 2), on the grey
    levels of their region only: the moved points and the CPU seconds it took."""
    mark = time.thread_time()
    x0, y0, x1, y1 = _region(points, before.shape[1], before.shape[0])
    grey = [cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY) for image in (before, after)]
    start = (points - [x0, y0]).astype(np.float32).reshape(-1, 1, 2)
    moved, _, _ = cv2.calcOpticalFlowPyrLK(grey[0], grey[1], start, None, **_FLOW)
    return moved.reshape(-1, 2) + [x0, y0], time.thread_time() - mark


def measure(path) -> dict | None:
    info = probe_video(path)
    points: list[np.ndarray | None] = []
    flowed: dict[int, np.ndarray] = {}
    mesh_cpu = flow_cpu = 0.0
    previous = None
    with FaceTracker(info.width, info.height) as tracker:
        for k, frame in enumerate(read_frames(path, 0.0, SECONDS, None)):
            mark = time.thread_time()
            found = tracker.update(frame.image)
            mesh_cpu += time.thread_time() - mark
            points.append(found)
            if k % 2 == 1 and previous is not None and found is not None and points[k - 1] is not None:
                flowed[k], spent = _flow(previous, frame.image, points[k - 1][_MOUTH_AND_JAW])
                flow_cpu += spent
            previous = frame.image
    between = [k for k in range(1, len(points) - 1, 2)
               if all(points[j] is not None for j in (k - 1, k, k + 1))]
    if len(between) < 10:
        return None
    errors = {"interpolation": [], "flow": [], "adaptive": []}
    meshed = 0
    for k in between:
        truth = points[k][_MOUTH_AND_JAW]
        eyes = float(eye_distance(points[k]))
        before, after = points[k - 1][_MOUTH_AND_JAW], points[k + 1][_MOUTH_AND_JAW]
        middle = (before + after) / 2
        interpolated = np.linalg.norm(middle - truth, axis=1) / eyes * 100
        errors["interpolation"].append(interpolated)
        errors["flow"].append(np.linalg.norm(flowed[k] - truth, axis=1) / eyes * 100)
        still = np.linalg.norm(after - before, axis=1).max() < STILL * float(eye_distance(points[k - 1]))
        errors["adaptive"].append(interpolated if still else np.zeros_like(interpolated))
        meshed += not still
    stacked = {name: np.stack(rows) for name, rows in errors.items()}
    tenth = max(len(between) // 10, 1)
    adaptive = stacked["adaptive"]
    return {
        "frames": len(points),
        "between": len(between),
        **{name: float(np.percentile(rows, 95)) for name, rows in stacked.items()},
        "adaptive_max": float(adaptive.max()),
        "adaptive_first": float(np.percentile(adaptive[:tenth], 95)),
        "adaptive_last": float(np.percentile(adaptive[-tenth:], 95)),
        "saved": (len(between) - meshed) / len(points),
        "mesh_ms": mesh_cpu / len(points) * 1000,
        "flow_ms": flow_cpu / len(flowed) * 1000,
    }


def main() -> None:
    def row(name: str, r: dict) -> str:
        return (f"| {name} | {r['frames']} ({r['between']}) | {r['interpolation']:.2f} | "
                f"{r['flow']:.2f} | {r['adaptive']:.2f} (max {r['adaptive_max']:.1f}) | "
                f"{r['adaptive_first']:.2f} -> {r['adaptive_last']:.2f} | {r['saved'] * 100:.0f}% | "
                f"{r['mesh_ms']:.2f} | {r['flow_ms']:.2f} |")

    rows = clip_rows(measure, row, 8)
    header = ("| clip | frames (filled in) | interpolation p95 | flow p95 | adaptive p95 | adaptive drift "
              "| mesh off | tracker ms | flow ms |")
    body = f"""Every shared clip (first {SECONDS:g} s), the mesh on every frame against three ways of
filling in every second frame from the key frames beside it: interpolation, Lucas-Kanade optical
flow from the key frame before (grey levels of the face's region), and motion-adaptive
(interpolation where the mouth and jaw moved under {STILL * 100:g}% of the eye distance between the key
frames, the mesh where they moved more). Error: each mouth and jaw point's distance from the
every-frame mesh's, % of the eye distance, 95th percentile over the filled-in frames (the bar:
{BAR:g}); the adaptive column counts its meshed frames as exact. Drift: the adaptive error over the
clip's first tenth -> its last. `mesh off` is the share of all frames the adaptive path spares the
mesh. CPU ms per frame on the calling thread (decoding runs on another): the tracker (mesh, crop,
detector on the frames it searches) and the flow (conversion of the face's region and
Lucas-Kanade). The key frames are the every-frame mesh's own points, so these are the best each
path could do.

{header}
|---|---:|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}
"""
    write_section("key-frames", "Face tracker: the mesh on key frames only, against every frame", body,
                  "python -m benchmarks.key_frames")


if __name__ == "__main__":
    main()
