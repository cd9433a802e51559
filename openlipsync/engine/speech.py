"""Speech track to a per-frame mouth target: how open, how spread or rounded, lips closed or not.

No phoneme recogniser: measured on this project, one gets two phonemes in three wrong, while
frame loudness alone tells speech from silence on ~98% of frames and follows the jaw. So the
targets are read from a few band energies per 10 ms hop (``audio_features``):

- speech/silence: speech-band loudness against per-track levels (noise floor, loud speech),
  with hysteresis and minimum durations so the mouth does not flutter;
- openness: the same loudness above the silence threshold, on a gently compressed scale,
  with a fast attack and a slower release so the lips do not quiver;
- closures: lips press together on /p b m/. A stop closure is a short near-silence inside
  speech that ends in a release; a bilabial nasal is a weak, low-frequency murmur that still
  keeps some 1-3 kHz energy (n's zero lies there instead). Stop closures of /t d k g/ look
  the same to these cues and are closed too: the jaw is up for them anyway;
- width: the balance of energy above and below ~1.5 kHz (an F2 proxy) in voiced hops.

Everything is computed per hop, then averaged over each output frame's own span, so a
variable frame rate or a low one neither aliases nor skips a short closure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d, maximum_filter1d

from openlipsync.engine.audio_features import HopFeatures, hop_features

_SILENT_DB = -120.0
_QUIETEST_SPEECH_DB = -70.0  # loud speech quieter than this (dBFS) is no speech at all
_MIN_DYNAMIC_DB = 10.0  # speech rises and falls by far more than this between syllables
_MAX_DYNAMIC_DB = 50.0  # a digital-silence floor says nothing about the thresholds
_GAP_FILL = 0.08  # silences shorter than this inside speech are bridged (s)
_MIN_SPEECH = 0.06  # speech shorter than this is a click (s)
_ZERO_SHARE = 0.4  # the mouth starts to open this far (share of floor..loud) above the floor
_ATTACK, _RELEASE = 0.015, 0.04  # openness smoothing time constants (s)
_CONTEXT = 0.15  # how far (s) a closure looks for the loud speech around it
_FEATURE_CONTEXT = 0.1  # +- seconds of audio summarised in each frame's feature vector
_FEATURE_FLOOR_DB = 80.0  # log-mel values are floored this far below the track's loudest


@dataclass
class MouthTargets:
    """Per output frame mouth targets; every array has one row per frame."""

    open: np.ndarray  # (N,) float32 in [0, 1]: 0 = lips together/relaxed, 1 = widest for this speaker
    width: np.ndarray  # (N,) float32 in [-1, 1]: +spread (ee, smile), -rounded (oo, w), 0 neutral
    closed: np.ndarray  # (N,) bool: lips pressed together (bilabial closure p/b/m, or silence)
    speech: np.ndarray  # (N,) bool: speech present around this frame
    features: np.ndarray  # (N, F) float32: log-mel mean and delta over +-100 ms, z-normalised per track


def analyse_speech(chunks: Iterable[np.ndarray], rate: int, frame_times: np.ndarray, *,
                   lead: float = 0.04) -> MouthTargets:
    """Mouth targets at ``frame_times`` (s from the audio start) for a streamed mono track.

    The target at frame time t is read from the audio around t + ``lead``: lips move a little
    before the sound they make. Frames past the end of the audio are silence.
    """
    times = np.asarray(frame_times, dtype=np.float64)
    if times.ndim != 1 or not np.all(np.isfinite(times)):
        raise ValueError("frame_times must be a 1-D array of finite seconds")
    if np.any(np.diff(times) < 0):
        raise ValueError("frame_times must be in increasing order")
    if not np.isfinite(lead):
        raise ValueError(f"lead must be a finite number of seconds, got {lead!r}")
    hops = hop_features(chunks, rate)
    cues = _HopCues.from_features(hops)
    starts, ends = _frame_spans(times + lead, hops.hop)
    speech = _window_mean(cues.speech, hops.hop, starts, ends, 0.0) >= 0.5
    closed = ~speech | _closed_frames(cues.closure, hops.hop, times + lead, starts, ends)
    openness = np.where(closed, 0.0, _window_mean(cues.open, hops.hop, starts, ends, 0.0))
    width = np.where(speech, _window_mean(cues.width, hops.hop, starts, ends, 0.0), 0.0)
    return MouthTargets(open=np.clip(openness, 0, 1).astype(np.float32),
                        width=np.clip(width, -1, 1).astype(np.float32),
                        closed=closed, speech=speech,
                        features=_frame_features(hops, times + lead))


@dataclass
class _HopCues:
    """Mouth cues per hop, before they are sampled at frame times."""

    speech: np.ndarray  # float 0/1
    open: np.ndarray
    closure: np.ndarray  # float 0/1: lips pressed inside speech
    width: np.ndarray

    @classmethod
    def from_features(cls, hops: HopFeatures) -> _HopCues:
        db = {name: 10.0 * np.log10(np.maximum(power, 10 ** (_SILENT_DB / 10)))
              for name, power in hops.bands.items()}
        level = db["speech"]
        # The loudest speech within +-150 ms: what a closure or a vowel is measured against.
        db["peak"] = maximum_filter1d(level, 2 * round(_CONTEXT / hops.hop) + 1)
        gate, zero, loud = _speech_gate(level, hops.hop)
        closure = _stop_closures(db, gate, hops.hop) | _bilabial_murmur(db, gate, hops.hop)
        x = np.clip((level - zero) / max(loud - zero, 1e-6), 0.0, 1.0)
        # A gentle power lifts normal speech into 0.3-0.9 and leaves quiet, breathy parts small.
        # Zeroed before smoothing so lips part gradually after a closure, and after it so the
        # slower release does not hold them open into a short one.
        openness = _attack_release(np.where(gate & ~closure, x**0.8, 0.0), hops.hop)
        openness[closure] = 0.0
        return cls(speech=gate.astype(float), open=openness, closure=closure.astype(float),
                   width=_width(db, gate, closure, hops.hop))


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


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end exclusive) of each True run of ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def _fill_runs(mask: np.ndarray, value: bool, shorter_than: int, *, inner_only: bool) -> np.ndarray:
    """Flip runs of ``value`` shorter than ``shorter_than`` hops (only those between two others)."""
    out = mask.copy()
    for s, e in _runs(mask == value):
        if e - s < shorter_than and not (inner_only and (s == 0 or e == len(mask))):
            out[s:e] = not value
    return out


def _stop_closures(db: dict[str, np.ndarray], gate: np.ndarray, hop: float) -> np.ndarray:
    """Hops of a stop closure: a quiet stretch after louder speech that ends in a release or in silence.

    Quiet means near-silence, or a voicing bar with nothing above 3 kHz (fricatives keep their
    hiss there). The closure reaches into the release while the sound is still well below the
    vowel and without high-frequency hiss (a bilabial burst and aspiration, not /t/ or /s/): the
    lips only begin to part there. Speech that starts after silence gets the same release rule.
    """
    level, peak = db["speech"], db["peak"]
    hiss = db["high"] - db["mid"]
    quiet = gate & (level < peak - 15.0) & ((hiss <= -6.0) | (level < peak - 30.0))
    releasing = (level < peak - 10.0) & (hiss <= 0.0)
    out = np.zeros(len(level), bool)
    shortest, longest, rise = round(0.02 / hop), round(0.2 / hop), round(0.04 / hop)

    def close_through_release(s: int, e: int) -> None:
        tail = e
        while tail < min(e + rise, len(level)) and releasing[tail]:
            tail += 1
        out[s:tail] = True

    for s, e in _runs(quiet):
        if s == 0 or not gate[s - 1] or e - s < shortest:
            continue
        if e == len(level) or not gate[e]:
            out[s:e] = True  # the lips close as speech ends
        elif e - s <= longest and level[e:e + rise + 1].max() >= level[s:e].min() + 6.0:
            close_through_release(s, e)
    for onset, _ in _runs(gate):
        if onset > 0:
            close_through_release(onset, onset)
    return out


def _bilabial_murmur(db: dict[str, np.ndarray], gate: np.ndarray, hop: float) -> np.ndarray:
    """Hops of an /m/: clearly weaker than the vowels around, low-frequency, little above 3 kHz.

    /n/ and /ng/ share the murmur; an /m/'s anti-resonance near 1 kHz leaves its 1-3 kHz band
    stronger against 0.3-1 kHz than theirs, and /u/ and /w/ are both louder and rounder.
    """
    level, peak = db["speech"], db["peak"]
    murmur = (gate & (level < peak - 7.0) & (level > peak - 30.0)
              & (db["low"] - db["mid"] >= 4.0) & (db["high"] - db["mid"] <= -10.0)
              & (db["f2"] - db["f1"] >= -6.0))
    out = np.zeros(len(level), bool)
    for s, e in _runs(murmur):
        if round(0.03 / hop) <= e - s <= round(0.25 / hop):
            out[s:e] = True
    return out


def _attack_release(x: np.ndarray, hop: float) -> np.ndarray:
    """One-pole smoothing that opens fast and closes a little slower."""
    up, down = 1.0 - np.exp(-hop / _ATTACK), 1.0 - np.exp(-hop / _RELEASE)
    out = np.empty_like(x)
    y = 0.0
    for i, v in enumerate(x.tolist()):
        y += (up if v > y else down) * (v - y)
        out[i] = y
    return out


def _width(db: dict[str, np.ndarray], gate: np.ndarray, closure: np.ndarray, hop: float) -> np.ndarray:
    """Spread (+) or rounded (-) from the F2 proxy of voiced hops, held through consonants."""
    level, peak = db["speech"], db["peak"]
    voiced = gate & ~closure & (level > peak - 12.0) & (db["high"] < db["mid"])
    if voiced.sum() < 3:
        return np.zeros(len(level))
    tilt = db["front"] - db["back"]
    lo, mid, hi = np.percentile(tilt[voiced], [10, 50, 90])
    scale = max(hi - lo, 6.0) / 2.0
    held = np.interp(np.arange(len(level)), np.flatnonzero(voiced), tilt[voiced])
    width = np.clip((held - mid) / scale, -1.0, 1.0) * gate
    return gaussian_filter1d(width, 0.03 / hop)


def _frame_spans(times: np.ndarray, hop: float) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's span: half way to its neighbours (at least one hop wide)."""
    if len(times) == 0:
        return times, times
    if len(times) == 1:
        half = np.full(1, 0.02)
    else:
        gaps = np.diff(times)
        half = np.concatenate([[gaps[0]], (gaps[:-1] + gaps[1:]) / 2, [gaps[-1]]]) / 2
    half = np.maximum(half, hop / 2)
    return times - half, times + half


def _window_mean(values: np.ndarray, hop: float, starts: np.ndarray, ends: np.ndarray,
                 fill: float | np.ndarray) -> np.ndarray:
    """Mean of per-hop ``values`` over each [start, end) span; ``fill`` outside the audio.

    Hop k stands for [(k - 0.5) hop, (k + 0.5) hop); the running integral of that step
    function is linear between hop edges, so any span's mean costs two lookups.
    """
    values = np.asarray(values, dtype=np.float64)
    count = len(values)
    fill = np.broadcast_to(np.asarray(fill, dtype=np.float64), values.shape[1:])
    integral = np.concatenate([np.zeros((1,) + values.shape[1:]), np.cumsum(values, axis=0) * hop])

    def at(t: np.ndarray) -> np.ndarray:
        pos = t / hop + 0.5  # position in hops from the first edge
        idx = np.clip(np.floor(pos).astype(np.int64), 0, max(count - 1, 0))
        inside = np.clip(pos, 0, count)
        out = np.zeros((len(t),) + values.shape[1:])
        if count:
            frac = (inside - idx).reshape((-1,) + (1,) * (values.ndim - 1))
            out = integral[idx] + frac * hop * values[idx]
        over = (np.maximum(pos - count, 0) + np.minimum(pos, 0)) * hop
        return out + over.reshape((-1,) + (1,) * (values.ndim - 1)) * fill

    return (at(ends) - at(starts)) / (ends - starts).reshape((-1,) + (1,) * (values.ndim - 1))


def _closed_frames(closure: np.ndarray, hop: float, times: np.ndarray, starts: np.ndarray,
                   ends: np.ndarray) -> np.ndarray:
    """Frames that show a closure: half their span is closed, or they are the nearest to a short one."""
    closed = _window_mean(closure, hop, starts, ends, 0.0) >= 0.5
    if len(times) == 0:
        return closed
    for s, e in _runs(closure > 0):
        middle = (s + e - 1) / 2 * hop
        nearest = int(np.clip(np.searchsorted(times, middle), 1, len(times) - 1))
        if abs(times[nearest - 1] - middle) <= abs(times[nearest] - middle):
            nearest -= 1
        if starts[nearest] <= middle < ends[nearest]:
            closed[nearest] = True
    return closed


def _frame_features(hops: HopFeatures, times: np.ndarray) -> np.ndarray:
    """Log-mel mean and delta (later half minus earlier) over +-100 ms, z-normalised per track."""
    mel_db = 10.0 * np.log10(np.maximum(hops.mel, 10 ** (_SILENT_DB / 10)))
    floor = (mel_db.max() if mel_db.size else _SILENT_DB) - _FEATURE_FLOOR_DB
    mel_db = np.maximum(mel_db, floor)
    fill = np.full(mel_db.shape[1], floor)
    before = _window_mean(mel_db, hops.hop, times - _FEATURE_CONTEXT, times, fill)
    after = _window_mean(mel_db, hops.hop, times, times + _FEATURE_CONTEXT, fill)
    features = np.concatenate([(before + after) / 2, after - before], axis=1)
    if len(features):
        spread = features.std(axis=0)
        features = (features - features.mean(axis=0)) / np.where(spread > 1e-6, spread, 1.0)
    return features.astype(np.float32)
