"""Speaker calibration: a correction fitted on the speaker's own speech, applied to new speech."""

from __future__ import annotations

import numpy as np

from openlipsync.engine.calibration import fit_speaker
from openlipsync.engine.speech import MouthTargets
from openlipsync.engine.visemes import ARTICULATORS

N = 600


def _targets(rng: np.random.Generator) -> MouthTargets:
    art = rng.random((N, len(ARTICULATORS))).astype(np.float32)
    speech = rng.random(N) > 0.2
    closed = ~speech | (art[:, ARTICULATORS.index("closure")] > 0.9)
    openness = np.where(closed, 0.0, art[:, 0]).astype(np.float32)
    width = np.where(speech, art[:, 2] - art[:, 1], 0.0).astype(np.float32)
    return MouthTargets(open=openness, width=width, closed=closed, speech=speech,
                        features=np.zeros((N, 1), np.float32), articulation=art)


def _wide_speaker(targets: MouthTargets, noise: float, rng: np.random.Generator):
    """A speaker who opens 1.6x as far as the front end says and barely spreads their lips."""
    opening = np.clip(1.6 * targets.open + rng.normal(0, noise, N), 0, None)
    width = 0.3 * targets.width + rng.normal(0, noise, N)
    return opening, width


def test_the_fit_learns_a_wider_speaker_and_carries_it_to_new_speech() -> None:
    rng = np.random.default_rng(1)
    own = _targets(rng)
    fit = fit_speaker(own, *_wide_speaker(own, 0.05, rng))
    assert fit is not None and fit.frames > 300 and fit.sync_r > 0.8
    new = _targets(rng)
    truth_open, truth_width = _wide_speaker(new, 0.0, rng)
    calibrated = fit.apply(new)
    speaking = new.speech & ~new.closed
    before = np.abs(new.open - np.clip(truth_open, 0, 1))[speaking].mean()
    after = np.abs(calibrated.open - np.clip(truth_open, 0, 1))[speaking].mean()
    assert after < 0.6 * before
    assert np.abs(calibrated.width - truth_width)[new.speech].mean() < \
        0.6 * np.abs(new.width - truth_width)[new.speech].mean()
    assert np.array_equal(calibrated.closed, new.closed)
    assert np.all(calibrated.open[new.closed] == 0)


def test_a_mouth_that_does_not_follow_its_own_audio_is_not_fitted() -> None:
    rng = np.random.default_rng(2)
    own = _targets(rng)
    unrelated = rng.random(N)
    assert fit_speaker(own, unrelated, rng.normal(0, 0.3, N)) is None
    # Too little speech with a face says too little about a speaker.
    faceless = np.full(N, np.nan)
    opening, width = _wide_speaker(own, 0.05, rng)
    faceless[:40] = opening[:40]
    assert fit_speaker(own, faceless, np.where(np.isfinite(faceless), width, np.nan)) is None
