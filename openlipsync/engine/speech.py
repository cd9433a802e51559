"""Speech track to a per-frame mouth target: articulation from the sounds, speech or silence from loudness.

What the mouth does comes from the phonetic front end (``phonetics``: a network trained here on
many voices and languages hears a viseme class per 10 ms hop; ``visemes`` turns its posteriors
into articulation with a coarticulation model). So the jaw opens on an open vowel rather than on
a loud moment, the lips stay nearly closed on a loud /i/ or /s/, round on /u o w/, press on
/p b m/ and go to the upper teeth on /f v/. How far a real mouth opens and how wide it is, given
what the network heard and the loudness around a frame, is read out in part (half the opening,
three quarters of the width) by a regression fitted on real people speaking (``readout``): the
articulation table's rounding and spreading are an idealisation.

Loudness still decides speech versus silence: against per-track levels (noise floor, loud
speech), with hysteresis and minimum durations, it is right on ~98% of frames, and a mouth must
rest in a pause whatever the network thinks it hears in the breath. A little of it also scales
the opening, as a stressed, louder vowel is opened wider than the same vowel unstressed.

Everything is computed per hop, then averaged over each output frame's own span, so a
variable frame rate or a low one neither aliases nor skips a short closure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from openlipsync.engine.audio_features import HopFeatures, hop_features
from openlipsync.engine.frame_windows import frame_spans, window_mean
from openlipsync.engine.phonetics import MODEL_PATH, load_model
from openlipsync.engine.readout import READOUT_PATH, load_readout
from openlipsync.engine.smoothing import contiguous_runs
from openlipsync.engine.visemes import ARTICULATORS, articulation

_SILENT_DB = -120.0
_QUIETEST_SPEECH_DB = -70.0  # loud speech quieter than this (dBFS) is no speech at all
_MIN_DYNAMIC_DB = 6.0  # speech rises and falls by more than this between syllables, even barely above noise
_MAX_DYNAMIC_DB = 50.0  # a digital-silence floor says nothing about the thresholds
_GAP_FILL = 0.08  # silences shorter than this inside speech are bridged (s)
_MIN_SPEECH = 0.06  # speech shorter than this is a click (s)
_ZERO_SHARE = 0.4  # loudness counts from this far (share of floor..loud) above the floor
_LOUDNESS_SHARE = 0.3  # share of the opening that follows loudness (stress) rather than the vowel
_CLOSURE = 0.4  # lips are closed where the closure articulation passes this
#: Lips that part for less than this between two closures (s) stay closed: no mouth opens and
#: shuts again within one frame of 30 fps, and rendered, such an opening flashes as a pop.
_MIN_OPENING = 0.05
#: Shares of the opening and of the width taken from the articulation table, the rest from the
#: real-mouth readout. The table keeps the contrast between sounds (an /i/ spread, an /u/ round,
#: an /a/ open) that the readout's regression averages down; the readout knows how real lips
#: move. Held out, each mix follows real mouths better than the table alone (docs/engine.md). The
#: width leans on the readout: the table's spread minus rounding moved against some real
#: speakers' width (woman_office_ko_720p at r -0.12 with half of it), and rounded vowels stay
#: narrower than spread ones at a quarter (tests/test_phonetics.py). The opening keeps half: at a
#: quarter, the open vowels of tests/test_speech.py no longer open to 0.4 of the speaker's range.
_OPEN_TABLE_SHARE = 0.5
_WIDTH_TABLE_SHARE = 0.25
#: A real mouth parts before the first sound of a phrase and relaxes after its last (anticipation
#: and carry-over), where the target jumped between rest and the first vowel's opening on the first
#: voiced frame. So the frames of a pause take the opening of the speech around them, fading with
#: a Gaussian of this sigma (s, in frame time); speech frames keep theirs, a vowel its full opening.
#: (Smoothing the speech frames as well followed the real mouths a little better still, but the
#: open vowels of a sentence full of /p b m/, tests/test_speech.py, opened to 0.36 of the speaker's
#: wide opening where they reach 0.4 and more.) Measured on the re-enacted clips
#: (docs/benchmarks.md, ``reenact-pause-edges``).
_PAUSE_EDGE = 0.07
#: A frame of a pause that the fading opening leaves below this is at rest (closed): smaller
#: openings barely part the lips, and in standard they cut from the resting mouth to another one.
_AT_REST = 0.05
_FEATURE_CONTEXT = 0.1  # +- seconds of audio summarised in each frame's feature vector
_FEATURE_FLOOR_DB = 80.0  # log-mel values are floored this far below the track's loudest
_OPEN, _ROUND, _SPREAD, _CLOSED = (ARTICULATORS.index(a) for a in ("open", "round", "spread", "closure"))


@dataclass
class MouthTargets:
    """Per output frame mouth targets; every array has one row per frame."""

    open: np.ndarray  # (N,) float32 in [0, 1]: 0 = lips together/relaxed, 1 = widest for this speaker
    width: np.ndarray  # (N,) float32 in [-1, 1]: +spread (ee, smile), -rounded (oo, w), 0 neutral
    closed: np.ndarray  # (N,) bool: lips pressed together (bilabial closure p/b/m, or silence)
    speech: np.ndarray  # (N,) bool: speech present around this frame
    features: np.ndarray  # (N, F) float32: log-mel mean and delta over +-100 ms, z-normalised per track
    #: (N, len(visemes.ARTICULATORS)) float32 in [0, 1]: the front end's articulation (open, round,
    #: spread, closure, labiodental, teeth, tongue); silence is the rest articulation.
    articulation: np.ndarray


def analyse_speech(chunks: Iterable[np.ndarray], rate: int, frame_times: np.ndarray, *,
                   lead: float = 0.04, readout: str | Path | None = None,
                   visemes: str | Path | None = None) -> MouthTargets:
    """Mouth targets at ``frame_times`` (s from the audio start) for a streamed mono track.

    The target at frame time t is read from the audio around t + ``lead``: lips move a little
    before the sound they make. Frames past the end of the audio are silence. ``readout`` and
    ``visemes`` are the real-mouth readout's and the front end's network's files; None is the one
    the package ships (a held-out evaluation names others).
    """
    times = np.asarray(frame_times, dtype=np.float64)
    if times.ndim != 1 or not np.all(np.isfinite(times)):
        raise ValueError("frame_times must be a 1-D array of finite seconds")
    if np.any(np.diff(times) < 0):
        raise ValueError("frame_times must be in increasing order")
    if not np.isfinite(lead):
        raise ValueError(f"lead must be a finite number of seconds, got {lead!r}")
    hops = hop_features(chunks, rate)
    level = 10.0 * np.log10(np.maximum(hops.bands["speech"], 10 ** (_SILENT_DB / 10)))
    gate, zero, loud = _speech_gate(level, hops.hop)
    readout_model = load_readout(readout or READOUT_PATH)
    heard = load_model(visemes or MODEL_PATH).hear(hops.mel, readout_model.hidden_projection())
    posteriors = heard.posteriors
    art = articulation(posteriors, hops.hop)
    stress = np.clip((level - zero) / max(loud - zero, 1e-6), 0.0, 1.0)
    art[:, _OPEN] *= (1.0 - _LOUDNESS_SHARE) + _LOUDNESS_SHARE * stress
    art[~gate] = 0.0  # silence: the rest articulation (lips together, relaxed)
    closure = gate & (art[:, _CLOSED] >= _CLOSURE)
    starts, ends = frame_spans(times + lead, hops.hop)
    speech = window_mean(gate.astype(float), hops.hop, starts, ends, 0.0) >= 0.5
    at_frames = window_mean(art, hops.hop, starts, ends, 0.0)
    closed = ~speech | _closed_frames(closure.astype(float), hops.hop, times + lead, starts, ends)
    closed = _bridge_openings(closed, times)
    real_width, real_open = readout_model.predict_at(posteriors, level, hops.hop, times + lead,
                                                     heard.projected).T
    mixed_open = _OPEN_TABLE_SHARE * at_frames[:, _OPEN] + (1 - _OPEN_TABLE_SHARE) * np.clip(real_open, 0, 1)
    spoken = np.where(closed, 0.0, mixed_open)
    table_width = at_frames[:, _SPREAD] - at_frames[:, _ROUND]
    width = np.where(speech, _WIDTH_TABLE_SHARE * table_width + (1 - _WIDTH_TABLE_SHARE) * real_width, 0.0)
    edge_open, edge_width = _smoothed(np.column_stack([spoken, width]), times, _PAUSE_EDGE).T
    pressed = closed & speech  # /p b m/: the lips meet whatever surrounds them
    closed = _bridge_openings(pressed | (~speech & (edge_open < _AT_REST)), times)
    openness = np.where(closed, 0.0, np.where(speech, spoken, edge_open))
    width = np.where(speech | closed, width, edge_width)  # the lips round or spread early too
    return MouthTargets(open=np.clip(openness, 0, 1).astype(np.float32),
                        width=np.clip(width, -1, 1).astype(np.float32),
                        closed=closed, speech=speech,
                        features=_frame_features(hops, times + lead),
                        articulation=np.clip(at_frames, 0, 1).astype(np.float32))


def _speech_gate(level: np.ndarray, hop: float) -> tuple[np.ndarray, float, float]:
    """(speech per hop, level of a closed mouth, level of a wide-open one), all per track.

    Thresholds sit between the track's noise floor and its loud speech, so they follow the
    recording's gain and noise; hysteresis and minimum durations keep single hops from
    flipping the mouth.
    """
    none = np.zeros(len(level), bool)
    if len(level) == 0:
        return none, 0.0, 1.0
    loud = float(np.percentile(level, 95))
    floor = max(float(np.percentile(level, 10)), loud - _MAX_DYNAMIC_DB)
    span = loud - floor
    if loud < _QUIETEST_SPEECH_DB or span < _MIN_DYNAMIC_DB:
        return none, loud, loud + 1.0
    on, off = floor + 0.35 * span, floor + 0.2 * span
    # Hysteresis: each hop repeats the last decisive crossing (above on: speech, below off: not).
    last = np.maximum.accumulate(np.where((level > on) | (level < off), np.arange(len(level)), -1))
    gate = (last >= 0) & (level[np.maximum(last, 0)] > on)
    gate = _fill_runs(gate, False, round(_GAP_FILL / hop), inner_only=True)
    gate = _fill_runs(gate, True, round(_MIN_SPEECH / hop), inner_only=False)
    return gate, floor + _ZERO_SHARE * span, loud


def _fill_runs(mask: np.ndarray, value: bool, shorter_than: int, *, inner_only: bool) -> np.ndarray:
    """Flip runs of ``value`` shorter than ``shorter_than`` hops (only those between two others)."""
    out = mask.copy()
    for s, e in contiguous_runs(mask == value):
        if e - s < shorter_than and not (inner_only and (s == 0 or e == len(mask))):
            out[s:e] = not value
    return out


def _closed_frames(closure: np.ndarray, hop: float, times: np.ndarray, starts: np.ndarray,
                   ends: np.ndarray) -> np.ndarray:
    """Frames that show a closure: half their span is closed, or they are the nearest to a short one."""
    closed = window_mean(closure, hop, starts, ends, 0.0) >= 0.5
    if len(times) == 0:
        return closed
    for s, e in contiguous_runs(closure > 0):
        middle = (s + e - 1) / 2 * hop
        nearest = int(np.clip(np.searchsorted(times, middle), 1, len(times) - 1))
        if abs(times[nearest - 1] - middle) <= abs(times[nearest] - middle):
            nearest -= 1
        if starts[nearest] <= middle < ends[nearest]:
            closed[nearest] = True
    return closed


def _smoothed(values: np.ndarray, times: np.ndarray, sigma: float) -> np.ndarray:
    """``values`` (a row per frame) averaged over the frames around each, Gaussian-weighted by
    their distance in ``times`` (s): the same motion at any frame rate, a variable one included."""
    n = len(values)
    if n < 2:
        return values.astype(np.float64)
    reach = 3.0 * sigma
    index = np.arange(n)
    span = int(max((np.searchsorted(times, times + reach, side="right") - index).max(),
                   (index - np.searchsorted(times, times - reach, side="left")).max()))
    total, weight = np.zeros(values.shape), np.zeros((n, 1))
    for offset in range(-span, span + 1):
        lo, hi = max(0, -offset), min(n, n - offset)
        gap = times[lo + offset : hi + offset] - times[lo:hi]
        w = np.where(np.abs(gap) <= reach, np.exp(-0.5 * (gap / sigma) ** 2), 0.0)[:, None]
        total[lo:hi] += w * values[lo + offset : hi + offset]
        weight[lo:hi] += w
    return total / weight


def _bridge_openings(closed: np.ndarray, times: np.ndarray) -> np.ndarray:
    """``closed`` with openings shorter than ``_MIN_OPENING`` between two closed frames closed too."""
    out = closed.copy()
    for s, e in contiguous_runs(~closed):
        if s > 0 and e < len(closed) and times[e] - times[s] < _MIN_OPENING:
            out[s:e] = True
    return out


def _frame_features(hops: HopFeatures, times: np.ndarray) -> np.ndarray:
    """Log-mel mean and delta (later half minus earlier) over +-100 ms, z-normalised per track."""
    mel_db = 10.0 * np.log10(np.maximum(hops.mel, 10 ** (_SILENT_DB / 10)))
    floor = (mel_db.max() if mel_db.size else _SILENT_DB) - _FEATURE_FLOOR_DB
    mel_db = np.maximum(mel_db, floor)
    fill = np.full(mel_db.shape[1], floor)
    before = window_mean(mel_db, hops.hop, times - _FEATURE_CONTEXT, times, fill)
    after = window_mean(mel_db, hops.hop, times, times + _FEATURE_CONTEXT, fill)
    features = np.concatenate([(before + after) / 2, after - before], axis=1)
    if len(features):
        spread = features.std(axis=0)
        features = (features - features.mean(axis=0)) / np.where(spread > 1e-6, spread, 1.0)
    return features.astype(np.float32)
