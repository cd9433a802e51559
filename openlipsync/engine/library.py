"""Building the exemplar library from the input video: the whole clip is the person's vocabulary.

The render may cover a few seconds of a long clip, but every frame of the clip with a good face
track shows a mouth the person can make, so the library is cut from the whole clip. When the
rendered range is the whole clip, render()'s own face track is reused and the clip is decoded
once more to cut the crops. Otherwise the library makes its own pass: the clip is decoded and
tracked, then decoded again for the crops (holding frames between the two would cost a frame of
memory per exemplar).

Memory and time stay bounded for long clips: past ``capacity`` frames the library takes evenly
spaced blocks of consecutive frames rather than every n-th frame, so runs of real motion survive
at their real speed, and a pass of its own decodes only those blocks (a seek to each).

Where the input has audio, the speech stage reads it at every exemplar's time. Its features are
kept only if the input's loudness actually follows this mouth (a music bed or a narrator does
not), measured on the library itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from openlipsync.engine.exemplars import (
    MIN_VARIETY,
    ExemplarLibrary,
    LibraryBuilder,
    frame_openings,
    gap_span,
)
from openlipsync.engine.face_track import LandmarkTrack, eye_distance, track_faces
from openlipsync.engine.speech import analyse_speech
from openlipsync.media.audio import iter_audio
from openlipsync.media.probe import VideoInfo
from openlipsync.media.video import output_fps, read_frames

SPEECH_RATE = 16000
_BLOCK_FRAMES = 45  # consecutive frames per block once a clip outgrows the capacity
#: The input's loudness must follow the library's mouth openings at least this well (Pearson r)
#: for its audio features to count as the person's own speech.
_MIN_OWN_SPEECH_R = 0.3
_MIN_SPEECH_SHARE = 0.15


@dataclass(frozen=True)
class ClipPass:
    """The input and the pass render() made over it: which range, at which rate, at which times."""

    path: str | os.PathLike[str]
    info: VideoInfo
    start: float
    end: float
    max_fps: float | None
    frame_times: np.ndarray  # (N,) seconds from ``start`` of the tracked frames
    #: Whether the pass found at most one person. A library pass of its own over the rest of the
    #: clip follows one face and cannot tell people apart, so with several the library comes from
    #: the rendered range, where the chosen person is known.
    one_person: bool = True

    def frame_rate(self) -> float:
        """Frames a second of the pass: the render's output rate."""
        return output_fps(self.info, self.max_fps)

    def covers_clip(self) -> bool:
        """Whether the pass saw the whole clip (so its track is the library's track too)."""
        last_frame = 1.0 / max(self.info.fps, 1e-6)
        return self.start <= 1e-6 and self.end >= self.info.duration - last_frame


@dataclass(frozen=True)
class LibrarySpec:
    """How big a library a mode keeps: at most ``capacity`` crops of at most ``max_ppu`` px per unit."""

    capacity: int
    max_ppu: float


def blocks(count: int, capacity: int) -> list[tuple[int, int]]:
    """[start, stop) frame ranges to take from ``count`` frames: all of them, or evenly spaced blocks."""
    if count <= capacity:
        return [(0, count)]
    size = min(_BLOCK_FRAMES, capacity)
    number = capacity // size
    starts = np.linspace(0, count - size, number).round().astype(int)
    return [(int(s), int(s) + size) for s in starts]


def _ppu(points: np.ndarray, spec: LibrarySpec) -> float:
    """Crop resolution: the faces' own size (median eye distance) up to the mode's cap."""
    native = float(np.median(eye_distance(points))) if len(points) else spec.max_ppu
    return float(np.clip(round(native), 24, spec.max_ppu))


def _cut(picks: np.ndarray, points: np.ndarray, frames: Iterable[tuple[int, int, float, np.ndarray]],
         spec: LibrarySpec) -> ExemplarLibrary:
    """Exemplars of the frames numbered ``picks`` (with landmarks ``points``) out of ``frames``,
    which yields (number, source frame, seconds from the video start, image) in order.

    When those mouths barely move, no crop is cut: the library comes back empty, saying so
    through its span (crops that can only show one shape would be wasted time).
    """
    builder = LibraryBuilder(max(len(picks), 1), _ppu(points, spec))
    if len(picks) == 0:
        return builder.build()
    span = gap_span(frame_openings(points))
    if span[1] - span[0] < MIN_VARIETY:
        library = builder.build()
        library.span = span
        return library
    landmarks = dict(zip(picks.tolist(), points, strict=True))
    for number, source, time, image in frames:
        if number in landmarks:
            builder.add(image, landmarks[number], source, time)
        if number >= picks[-1]:
            break
    return builder.build()


def _from_render_track(clip: ClipPass, track: LandmarkTrack, spec: LibrarySpec) -> ExemplarLibrary:
    """Library from render()'s own track, which covers the whole clip."""
    wanted = np.zeros(len(track.ok), bool)
    for start, stop in blocks(len(track.ok), spec.capacity):
        wanted[start:stop] = True
    picks = np.flatnonzero(wanted & track.ok)
    frames = ((f.index, f.index, clip.start + f.time, f.image)
              for f in read_frames(clip.path, clip.start, clip.end, clip.max_fps))
    return _cut(picks, track.points[picks], frames, spec)


def _own_pass(clip: ClipPass, spec: LibrarySpec) -> ExemplarLibrary:
    """Library from a pass of its own over the clip (the render covers only part of it): the
    frames of evenly spaced blocks are tracked, then decoded again to cut the crops."""
    fps = clip.frame_rate()
    count = max(int(clip.info.duration * fps), 1)
    spans = [(a / fps, b / fps) for a, b in blocks(count, spec.capacity)]
    spans[-1] = (spans[-1][0], clip.info.duration + 1.0 / fps)

    def frames() -> Iterator[tuple[int, int, float, np.ndarray]]:
        number = 0
        for start, end in spans:
            for frame in read_frames(clip.path, start, end, fps):
                # The source frame is counted on the clip's own grid, so a jump between blocks
                # breaks a run of consecutive frames as it should.
                yield number, round((start + frame.time) * fps), start + frame.time, frame.image
                number += 1

    track = track_faces((image for *_, image in frames()), clip.info.width, clip.info.height,
                        expected_frames=min(count, spec.capacity))
    picks = np.flatnonzero(track.ok)
    return _cut(picks, track.points[picks], frames(), spec)


def _own_speech_features(path: str | os.PathLike[str], library: ExemplarLibrary) -> np.ndarray | None:
    """The input's audio features at each exemplar, if the input's audio is this mouth speaking."""
    if len(library) < 10:
        return None
    own = analyse_speech(iter_audio(path, rate=SPEECH_RATE), SPEECH_RATE, library.times)
    if own.speech.mean() < _MIN_SPEECH_SHARE or np.std(own.open) < 1e-6 or np.std(library.gap) < 1e-6:
        return None
    if np.corrcoef(own.open, library.gap)[0, 1] < _MIN_OWN_SPEECH_R:
        return None
    return own.features


def build_library(clip: ClipPass, track: LandmarkTrack, spec: LibrarySpec) -> ExemplarLibrary:
    """The exemplar library of ``clip`` (render()'s ``track`` is reused when it covers the clip, or
    when the clip shows several people)."""
    own_pass = clip.one_person and not clip.covers_clip()
    library = _own_pass(clip, spec) if own_pass else _from_render_track(clip, track, spec)
    if clip.info.has_audio:
        library.features = _own_speech_features(clip.path, library)
    return library

