"""Speaker calibration: learn how this person's mouth realises the front end's articulation.

People differ: one speaker barely opens on /a/, another drops the jaw on every schwa, a third
smiles through their /o/. When the input video carries its own speech and its mouth follows
that speech (the dubbing case), the clip shows how this speaker's mouth moves for each
articulation; a ridge regression from the front end's articulation to the tracked opening and
width, fitted on those frames, maps the new speech onto this speaker's way of speaking.

The regression learns a correction to the uncalibrated targets, shrunk towards none: with a
few seconds of speech it nudges, with a minute it takes over. It is fitted on the mouth's
geometry only, so the new speech's targets are this speaker's shapes for the NEW sounds; the
input's mouth itself is never copied. Where the input's audio does not follow its mouth (music,
another voice, a voice-over) nothing is fitted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from openlipsync.engine import mouth_shape as ms
from openlipsync.engine import pages
from openlipsync.engine.exemplars import WIDTH_SPAN, mouth_width
from openlipsync.engine.face_track import LandmarkTrack
from openlipsync.engine.speech import MouthTargets, analyse_speech
from openlipsync.media.audio import iter_audio
from openlipsync.media.errors import MediaError

#: The own speech must move the mouth at least this much (Pearson r of the uncalibrated opening
#: with the tracked one) to be taken as this mouth speaking.
MIN_SYNC_R = 0.25
_MIN_FRAMES = 60  # speaking frames with a face; fewer say too little about a speaker
_RIDGE = 40.0  # frames' worth of evidence for "no correction"


@dataclass(frozen=True)
class SpeakerFit:
    """Corrections of opening and width, linear in [1, articulation]."""

    open_coef: np.ndarray
    width_coef: np.ndarray
    frames: int  # speaking frames fitted on
    sync_r: float  # how well the own speech's uncalibrated opening followed the mouth

    def apply(self, targets: MouthTargets) -> MouthTargets:
        """``targets`` on this speaker's scale; closed and silent frames stay as they are."""
        x = _design(targets.articulation)
        speaking = targets.speech & ~targets.closed
        openness = np.where(speaking, np.clip(targets.open + x @ self.open_coef, 0.0, 1.0), targets.open)
        width = np.where(targets.speech, np.clip(targets.width + x @ self.width_coef, -1.0, 1.0),
                         targets.width)
        return replace(targets, open=openness.astype(np.float32), width=width.astype(np.float32))


def _design(art: np.ndarray) -> np.ndarray:
    return np.concatenate([np.ones((len(art), 1)), np.asarray(art, np.float64)], axis=1)


def measured_mouth(track: LandmarkTrack, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(opening as a share of the speaker's wide opening, width target units) of ``frames``."""
    gaps = np.full(len(frames), np.nan)
    widths = np.full(len(frames), np.nan)
    for k, (i, face) in enumerate(pages.rows(track.points, frames)):
        if track.ok[i]:
            pts = face.astype(np.float64)
            frame = ms.HeadFrame.from_points(pts)
            gaps[k] = ms.inner_gap(pts, frame)
            widths[k] = mouth_width(frame.to_canonical(pts))
    seen = np.isfinite(gaps)
    if not seen.any():
        return gaps, widths
    opening = gaps / ms.typical_max_gap(gaps[seen])
    return opening, (widths - np.nanmedian(widths)) / WIDTH_SPAN


def fit_speaker(own: MouthTargets, opening: np.ndarray, width: np.ndarray) -> SpeakerFit | None:
    """The correction that maps ``own`` (targets of the input's own speech) onto the measured mouth.

    ``opening`` and ``width`` are :func:`measured_mouth` of the same frames (NaN without a face).
    None when the own speech does not drive this mouth or there is too little of it.
    """
    use = own.speech & ~own.closed & np.isfinite(opening) & np.isfinite(width)
    if use.sum() < _MIN_FRAMES or np.std(own.open[use]) < 1e-6 or np.std(opening[use]) < 1e-6:
        return None
    seen = np.isfinite(opening)
    sync_r = float(np.corrcoef(own.open[seen], opening[seen])[0, 1])
    if not sync_r >= MIN_SYNC_R:
        return None
    x = _design(own.articulation[use])
    penalty = _RIDGE * np.eye(x.shape[1])
    penalty[0, 0] = 1e-6  # the offset is free: a speaker's resting gap is theirs

    def solve(residual: np.ndarray) -> np.ndarray:
        return np.linalg.solve(x.T @ x + penalty, x.T @ residual)

    return SpeakerFit(open_coef=solve(np.clip(opening[use], 0.0, 1.2) - own.open[use]),
                      width_coef=solve(np.clip(width[use], -1.5, 1.5) - own.width[use]),
                      frames=int(use.sum()), sync_r=sync_r)


def fit_from_clip(video: str | Path, rate: int, frame_times: np.ndarray, track: LandmarkTrack,
                  offset: float = 0.0, *, readout: str | Path | None = None,
                  visemes: str | Path | None = None) -> SpeakerFit | None:
    """:func:`fit_speaker` on a clip's own audio track, whose frames at ``frame_times`` were tracked.

    ``frame_times`` count from ``offset`` seconds into the clip (a trimmed render range). A track
    that cannot be decoded, or a clip with no audio, calibrates nothing. ``readout`` and
    ``visemes`` name the speech stage's files (see ``analyse_speech``): the correction is learned
    for the front end that will read the new speech.
    """
    own = own_speech(video, rate, frame_times, offset, readout=readout, visemes=visemes)
    return None if own is None else fit_track(own, track)


def own_speech(video: str | Path, rate: int, frame_times: np.ndarray, offset: float = 0.0, *,
               readout: str | Path | None = None, visemes: str | Path | None = None) -> MouthTargets | None:
    """The front end's reading of a clip's own audio at ``frame_times`` (seconds from ``offset``),
    None when its audio cannot be decoded."""
    try:
        return analyse_speech(iter_audio(video, rate=rate), rate, np.asarray(frame_times) + offset,
                              readout=readout, visemes=visemes)
    except MediaError:
        return None


def fit_track(own: MouthTargets, track: LandmarkTrack) -> SpeakerFit | None:
    """:func:`fit_speaker` of ``own`` on every frame of ``track``."""
    opening, width = measured_mouth(track, np.arange(len(track.ok)))
    return fit_speaker(own, opening, width)
