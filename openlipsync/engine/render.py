"""The engine's one entry point: ``render(video, audio, out, options, progress)``.

Two passes over the clip keep memory flat: the first decodes and tracks the face (keeping only
landmarks), the second decodes again, re-renders the mouth and encodes. Decoding twice costs
less than holding a clip's frames, and it lets the face track be smoothed with the whole clip
in view. Frames without a usable face are encoded as decoded: a hard frame never aborts a job.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np

from openlipsync.engine import pages
from openlipsync.engine.calibration import SpeakerFit, fit_from_clip, fit_track, own_speech
from openlipsync.engine.closed_lips import ClosedLips, ClosedLipsCollector
from openlipsync.engine.composite import paste
from openlipsync.engine.face_track import LandmarkTrack, track_faces
from openlipsync.engine.interior import InteriorCollector, MouthInterior
from openlipsync.engine.library import ClipPass
from openlipsync.engine.lite import LiteRenderer
from openlipsync.engine.options import Progress, RenderOptions, RenderSummary, no_progress
from openlipsync.engine.people import Cast
from openlipsync.engine.schedule import plan, play
from openlipsync.engine.speaker import SpeakerChoice, find_speaker
from openlipsync.engine.speech import MouthTargets, analyse_speech
from openlipsync.engine.spill import Spill
from openlipsync.engine.standard import exemplar_renderer
from openlipsync.media.audio import iter_audio
from openlipsync.media.encode import VideoWriter
from openlipsync.media.errors import MediaError
from openlipsync.media.probe import probe_audio_duration, probe_video
from openlipsync.media.quality import choose_crf
from openlipsync.media.video import output_fps, read_frames

log = logging.getLogger(__name__)

SPEECH_RATE = 16000
#: What a degenerate face geometry can raise while one frame is re-rendered; such a frame is
#: encoded as decoded instead of failing the job.
FRAME_ERRORS = (cv2.error, np.linalg.LinAlgError, ValueError, FloatingPointError)
#: Consecutive frames of the clip encoded at trial qualities to pick the CRF (media.quality).
QUALITY_SAMPLES = 5


def _clip_range(duration: float, options: RenderOptions) -> tuple[float, float]:
    start = options.start
    end = duration if options.end is None else min(options.end, duration)
    if start < 0:
        raise MediaError("invalid_parameters", f"start_seconds must be >= 0, got {start}")
    if options.max_fps is not None and options.max_fps < 1:
        raise MediaError("invalid_parameters", f"max_fps_limit must be >= 1, got {options.max_fps}")
    if end <= start:
        raise MediaError(
            "invalid_parameters",
            f"the range [{start:g}, {end:g}) s holds no video (the clip is {duration:.2f} s long)",
        )
    return start, end


class _OwnMouth:
    """Watches one face run in the tracking pass for the mouths lite borrows from the person: the
    open interior it shows between parted lips, the closed lips it lays over a mouth it shuts."""

    def __init__(self, spill: Spill) -> None:
        self.interior = InteriorCollector()
        self.closed = ClosedLipsCollector()
        self._spill = spill

    def observe(self, image: np.ndarray, points: np.ndarray | None) -> None:
        self.interior.observe(image, points)
        self.closed.observe(image, points)

    def finish(self) -> None:
        self.interior.park(self._spill)
        self.closed.park(self._spill)


def _mouth_renderer(options: RenderOptions, track: LandmarkTrack, targets: MouthTargets, clip: ClipPass,
                    source: np.ndarray, interior: MouthInterior | None, closed: ClosedLips | None):
    """The renderer for the requested mode: an object with ``render(image, points, k)`` and ``notes``.

    ``render`` returns (patch, box, alpha) for composite.paste, or None to keep the frame as it
    is. ``clip`` says what the tracking pass covered, ``source`` which input frame each output
    frame shows; ``interior`` and ``closed`` are the clip's own open mouth and closed lips for lite.
    """
    if options.mode == "lite":
        return LiteRenderer(track, targets, source, interior, closed,
                            frame_rate=clip.frame_rate())
    if options.mode in ("standard", "pro"):
        return exemplar_renderer(options.mode, clip, track, targets, source, interior, closed)
    raise MediaError("invalid_parameters", f"generation mode {options.mode!r} is not available")


def _speaker_fit(own: MouthTargets | None, track: LandmarkTrack, options: RenderOptions) -> SpeakerFit | None:
    """How this speaker's mouth realises articulation: from the calibration clip, else the input's
    own speech (``own``)."""
    if options.calibration_video is not None:
        info = probe_video(options.calibration_video)
        times: list[float] = []

        def images():
            for frame in read_frames(options.calibration_video, 0.0, None, None):
                times.append(frame.time)
                yield frame.image

        own_track = track_faces(images(), info.width, info.height)
        return fit_from_clip(options.calibration_video, SPEECH_RATE, np.array(times), own_track,
                             readout=options.readout, visemes=options.visemes)
    return None if own is None else fit_track(own, track)


def _cast_notes(cast: Cast, choice: SpeakerChoice, track: LandmarkTrack) -> list[str]:
    """What a user needs to hear about the people in the clip: only where there is a choice."""
    if len(cast.people) <= 1 and cast.shots == 1 and not choice.reason.startswith("picked"):
        return []
    people = f"{len(cast.people)} {'person' if len(cast.people) == 1 else 'people'}"
    shots = f"{cast.shots} {'shot' if cast.shots == 1 else 'shots'}"
    if choice.person is None:
        return [f"{people} and {shots} found; nobody was re-animated"]
    said = f"{people} and {shots} found; re-animated person {choice.person.index} ({choice.reason})"
    scored = [f"{i}: {r:.2f}" for i, r in sorted(choice.sync_r.items()) if np.isfinite(r)]
    if scored:
        said += "; mouth-to-own-speech r " + ", ".join(scored)
    notes = [said]
    absent = int((~track.ok).sum())
    if absent and len(cast.people) > 1:
        notes.append(f"person {choice.person.index} is not in view on {absent} of {len(track.ok)} "
                     "tracked frames: those were left as they were")
    return notes


def render(
    video: str | Path,
    audio: str | Path,
    out: str | Path,
    options: RenderOptions | None = None,
    progress: Progress = no_progress,
) -> RenderSummary:
    """Render ``video`` with its mouth re-animated to ``audio`` into ``out`` (mp4).

    Raises MediaError (``invalid_video_file``, ``invalid_audio_file``, ``invalid_parameters``)
    for input it cannot use; no partial ``out`` is left behind then.
    """
    options = options or RenderOptions()
    began = time.perf_counter()
    stage_seconds: dict[str, float] = {}
    info = probe_video(video)
    audio_seconds = probe_audio_duration(audio)
    start, end = _clip_range(info.duration, options)
    fps = output_fps(info, options.max_fps)
    expected = max(int(round((end - start) * fps)), 1)

    def decode():
        return read_frames(video, start, end, options.max_fps)

    mark = time.perf_counter()
    samples: list[np.ndarray] = []

    def tracked_frames():
        for frame in decode():
            if len(samples) < QUALITY_SAMPLES:
                samples.append(frame.image.copy())
            progress("tracking", frame.index + 1, expected)
            yield frame.time, frame.image

    def own_speech_at(times: np.ndarray) -> MouthTargets | None:
        if not info.has_audio:
            return None
        return own_speech(video, SPEECH_RATE, times, start, readout=options.readout, visemes=options.visemes)

    spill = Spill()
    found = find_speaker(tracked_frames(), info.width, info.height, own_speech=own_speech_at,
                         nominal_times=np.arange(expected) / fps, pick=options.face, offset=start,
                         decode_again=lambda: (f.image for f in decode()), observer=lambda: _OwnMouth(spill))
    cast, choice, own, times = found.cast, found.choice, found.own, found.times
    track = cast.track(choice.person)
    own_mouths: list[_OwnMouth] = cast.observers(choice.person) if choice.person else []
    interior = InteriorCollector.merged([own.interior for own in own_mouths]).result()
    closed = ClosedLipsCollector.merged([own.closed for own in own_mouths]).result()
    cast_notes = _cast_notes(cast, choice, track)
    people, shots = len(cast.people), cast.shots
    speaker = None if choice.person is None else choice.person.index
    del cast, choice  # every face run's points: the chosen person's are in ``track`` now
    stage_seconds["tracking"] = time.perf_counter() - mark

    mark = time.perf_counter()
    schedule = plan(times, end - start, audio_seconds, options.audio_longer)
    total = len(schedule.source)
    progress("speech", 0, 1)
    targets = analyse_speech(iter_audio(audio, rate=SPEECH_RATE), SPEECH_RATE, schedule.times,
                             readout=options.readout, visemes=options.visemes)
    fit = _speaker_fit(own, track, options)
    if fit is not None:
        targets = fit.apply(targets)
    progress("speech", 1, 1)
    stage_seconds["speech"] = time.perf_counter() - mark

    mark = time.perf_counter()
    clip = ClipPass(video, info, start, end, options.max_fps, times, one_person=people <= 1)
    renderer = _mouth_renderer(options, track, targets, clip, schedule.source, interior, closed)
    if options.mode != "lite":
        stage_seconds["library"] = time.perf_counter() - mark
    mark = time.perf_counter()
    with_face = failed = 0
    crf = options.crf if options.crf is not None else choose_crf(samples, options.preset)
    with VideoWriter(out, info.width, info.height, fps, audio_path=audio, crf=crf,
                     preset=options.preset, colour=info.colour) as writer:
        images = play(schedule, lambda: (f.image for f in decode()))
        for k, (index, image) in enumerate(zip(schedule.source, images, strict=False)):
            if track.ok[index]:
                try:
                    drawn = renderer.render(image, track.points[index], k)
                    if drawn is not None:
                        paste(image, *drawn)
                    with_face += 1
                except FRAME_ERRORS:
                    log.warning("output frame %d kept as decoded: its face could not be re-rendered", k,
                                exc_info=True)
                    failed += 1
            writer.write(image, float(schedule.times[k]))
            if (k + 1) % pages.EVERY == 0:
                pages.release(track.points)  # the frames behind: read once more at most
            progress("rendering", k + 1, total)
    stage_seconds["rendering"] = time.perf_counter() - mark

    notes = cast_notes + list(renderer.notes)
    if options.end is not None and options.end > end:
        notes.append(f"the video is {info.duration:g} s long: the range was clipped to "
                     f"{start:g}-{end:g} s ({end - start:g} s, not {options.end - start:g} s)")
    if fit is not None:
        source_name = "the calibration clip" if options.calibration_video else "the input's own speech"
        notes.append(f"mouth movements calibrated to this speaker on {fit.frames} frames of {source_name}")
    if interior is None and with_face:
        notes.append("mouth interior: the input never shows this person's mouth open, so the teeth and "
                     "tongue between parted lips are painted, not their own")
    if failed:
        notes.append(f"{failed} frames could not be re-rendered and were left as they were")
    if with_face + failed == 0:
        notes.append("no face found: the output is the input with the new audio")
    elif with_face + failed < total:
        faceless = total - with_face - failed
        notes.append(f"{faceless} of {total} frames had no usable face and were left as they were")
    return RenderSummary(
        frames=total,
        fps=round(total / schedule.seconds, 3),
        seconds=round(schedule.seconds, 3),
        width=info.width,
        height=info.height,
        frames_with_face=with_face,
        mode=options.mode,
        crf=crf,
        elapsed_s=round(time.perf_counter() - began, 3),
        start_seconds=round(start, 3),
        end_seconds=round(end, 3),
        people=people,
        shots=shots,
        speaker=speaker,
        stage_seconds={k: round(v, 3) for k, v in stage_seconds.items()},
        notes=notes,
    )
