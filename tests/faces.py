"""Real faces for engine tests: frames of the shared clips with MediaPipe's own landmarks."""

from __future__ import annotations

import itertools

import av
import numpy as np

from tests.conftest import shared_media


def meshed_frames(name: str, count: int) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """The first ``count`` frames of a shared clip with MediaPipe's raw landmarks (None: no face)."""
    import mediapipe as mp

    found = []
    with av.open(str(shared_media(name))) as container, mp.solutions.face_mesh.FaceMesh(
        max_num_faces=1
    ) as mesh:
        for frame in itertools.islice(container.decode(video=0), count):
            image = frame.to_ndarray(format="rgb24")
            faces = mesh.process(image).multi_face_landmarks
            h, w = image.shape[:2]
            points = np.array([[p.x * w, p.y * h] for p in faces[0].landmark], np.float32) if faces else None
            found.append((image, points))
    return found
