"""The real-mouth readout: the shipped file, the inputs it reads, and the fit that writes it."""

from __future__ import annotations

import numpy as np

from openlipsync.engine.readout import READOUT_PATH, SPREAD_SHARE, TAPS, frame_inputs, load_readout
from openlipsync.engine.visemes import CLASSES
from training.readout.fit import ClipData, fit


def _clip(rng: np.random.Generator, seconds: float, fps: float = 25.0) -> tuple[np.ndarray, ...]:
    """(posteriors per 10 ms hop, level per hop, frame times) of random 'speech'."""
    hops = int(seconds * 100)
    logits = rng.normal(size=(hops, len(CLASSES))) * 3
    posteriors = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    level = rng.normal(-30.0, 10.0, hops)
    return posteriors, level, np.arange(0.0, seconds, 1.0 / fps)


def test_the_shipped_readout_loads_and_reads_every_frame() -> None:
    assert READOUT_PATH.is_file() and READOUT_PATH.stat().st_size < 100_000
    readout = load_readout()
    posteriors, level, times = _clip(np.random.default_rng(0), 4.0)
    inputs = frame_inputs(posteriors, level, 0.01, times, readout.taps)
    assert inputs.shape == (len(times), len(TAPS) * (len(CLASSES) + 1))
    width = readout.predict(inputs)
    assert width.shape == (len(times),) and np.all(np.isfinite(width))
    assert np.all(np.abs(width) < 3.0)  # in target units, where +-1 is a wide smile or a tight pucker


def test_the_fit_finds_the_sound_that_drives_the_width_and_scales_its_spread() -> None:
    rng = np.random.default_rng(1)
    clips = []
    spread = CLASSES.index("IY")
    for k in range(4):
        posteriors, level, times = _clip(rng, 60.0)
        inputs = frame_inputs(posteriors, level, 0.01, times)
        column = TAPS.tolist().index(0.0) * (len(CLASSES) + 1) + spread  # IY at the frame itself
        width = 2.0 * inputs[:, column] + rng.normal(0, 0.2, len(times))
        mouth = np.stack([np.full(len(times), np.nan), width], axis=1)
        mouth[::17] = np.nan  # frames without a face are left out of the fit
        clips.append(ClipData(f"clip{k}", inputs, mouth, None, times))  # type: ignore[arg-type]
    readout = fit(clips)
    x = np.concatenate([c.inputs for c in clips])
    y = np.concatenate([c.mouth[:, 1] for c in clips])
    predicted = readout.predict(x)
    seen = np.isfinite(y)
    assert np.corrcoef(predicted[seen], y[seen])[0, 1] > 0.6
    assert np.argmax(readout.coef[1:]) == column
    assert abs(predicted[seen].std() / y[seen].std() - SPREAD_SHARE) < 0.02
