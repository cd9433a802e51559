"""The real-mouth stage: the shipped readout, the inputs it reads, the fit that writes it, and the
tuning of the network on real mouths."""

from __future__ import annotations

import numpy as np
import pytest

from openlipsync.engine.phonetics import VisemeModel
from openlipsync.engine.readout import READOUT_PATH, SPREAD_SHARE, TAPS, TARGETS, frame_inputs, load_readout
from openlipsync.engine.visemes import CLASSES
from training.readout.fit import ClipData, fit
from training.readout.tune import RealSpeech, tune, weak_labels
from training.visemes.train import Split


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
    assert readout.units == VisemeModel.load().units
    rng = np.random.default_rng(0)
    posteriors, level, times = _clip(rng, 4.0)
    hidden = np.maximum(rng.normal(size=(len(posteriors), readout.units)), 0.0)  # ReLU activations
    inputs = frame_inputs(posteriors, level, 0.01, times, readout.taps, hidden)
    assert inputs.shape == (len(times), len(TAPS) * (len(CLASSES) + 1) + readout.units)
    predicted = readout.predict(inputs)
    assert predicted.shape == (len(times), len(TARGETS)) and np.all(np.isfinite(predicted))
    width, opening = predicted[:, TARGETS.index("width")], predicted[:, TARGETS.index("open")]
    assert np.all(np.abs(width) < 3.0)  # in target units, where +-1 is a wide smile or a tight pucker
    assert np.all((opening > -1.0) & (opening < 2.0))  # a share of the speaker's wide opening


def test_the_speech_stage_reads_the_hidden_layer_through_its_projection() -> None:
    """Two numbers per hop instead of 256: averaging a window and projecting must commute, up to
    the frames past the end of the audio."""
    readout = load_readout()
    rng = np.random.default_rng(3)
    posteriors, level, times = _clip(rng, 6.0)
    hidden = np.maximum(rng.normal(size=(len(posteriors), readout.units)), 0.0)
    whole = readout.predict(frame_inputs(posteriors, level, 0.01, times, readout.taps, hidden))
    projected = hidden.astype(np.float32) @ readout.hidden_projection()
    streamed = readout.predict_at(posteriors, level, 0.01, times, projected)
    assert np.allclose(streamed, whole, atol=1e-4)
    with pytest.raises(ValueError, match="hidden layer"):
        readout.predict_at(posteriors, level, 0.01, times)


def test_the_fit_finds_the_sounds_that_drive_width_and_opening_and_scales_their_spread() -> None:
    rng = np.random.default_rng(1)
    clips = []
    at_frame = TAPS.tolist().index(0.0) * (len(CLASSES) + 1)
    spread, wide = at_frame + CLASSES.index("IY"), at_frame + CLASSES.index("AA")  # at the frame itself
    for k in range(4):
        posteriors, level, times = _clip(rng, 60.0)
        inputs = frame_inputs(posteriors, level, 0.01, times)
        width = 2.0 * inputs[:, spread] + rng.normal(0, 0.2, len(times))
        opening = 0.3 + inputs[:, wide] + rng.normal(0, 0.1, len(times))
        mouth = np.stack([opening, width], axis=1)
        mouth[::17] = np.nan  # frames without a face are left out of the fit
        clips.append(ClipData(f"clip{k}", inputs, mouth, None, times))  # type: ignore[arg-type]
    readout = fit(clips)
    x = np.concatenate([c.inputs for c in clips])
    measured = np.concatenate([c.mouth for c in clips])
    predicted = readout.predict(x)
    seen = np.isfinite(measured[:, 0])
    for target, column, driver in (("width", 1, spread), ("open", 0, wide)):
        got, real = predicted[seen, TARGETS.index(target)], measured[seen, column]
        assert np.corrcoef(got, real)[0, 1] > 0.6, target
        assert np.argmax(readout.coef[1:, TARGETS.index(target)]) == driver, target
        assert abs(got.std() / real.std() - SPREAD_SHARE) < 0.02, target


def _talking(rng: np.random.Generator, frames: int = 260, fps: float = 25.0) -> RealSpeech:
    """A clip whose mouth opens for 10 frames, then closes for 3, over and over, and whose sound
    is quieter in the upper bands while the lips are closed (a murmur)."""
    times = np.arange(frames) / fps
    opening = np.where(np.arange(frames) % 13 < 10, 0.5, 0.0)
    hop = 0.01
    mel = rng.random((int(times[-1] / hop) + 20, 20)) + 0.5
    shown = np.minimum(((np.arange(len(mel)) * hop - 0.04) * fps).round().astype(int), frames - 1)
    closed_hops = opening[shown] == 0  # the frame that shows each hop's sound (0.04 s before it)
    mel[np.ix_(closed_hops, np.arange(10, 20))] *= 0.01
    return RealSpeech(mel, hop, times, opening, np.ones(frames, bool))


def test_weak_labels_take_open_mouths_away_from_closures_and_still_mouths_say_nothing() -> None:
    clip = _talking(np.random.default_rng(2))
    context = np.arange(-2, 3)
    inputs, labels = weak_labels(clip, context, lead=0.04)
    blocks = len(clip.times) // 13
    # Each open run of 10 frames gives its 8 inner frames (both neighbours open too), 3 hops each;
    # each closed frame while speaking gives 3 hops.
    assert abs(int((labels == 0).sum()) - blocks * 8 * 3) <= 8 * 3
    assert abs(int((labels == 1).sum()) - blocks * 3 * 3) <= 3 * 3
    assert inputs.shape == (len(labels), len(context) * 20)
    still = RealSpeech(clip.mel, clip.hop, clip.times, np.where(clip.opening > 0, 0.05, 0.0), clip.speech)
    assert not (weak_labels(still, context, lead=0.04)[1] == 1).any()  # a mouth that never opens


def test_tuning_learns_that_an_open_mouth_is_no_closure_and_keeps_the_synthetic_classes() -> None:
    rng = np.random.default_rng(3)
    context = np.arange(-2, 3)
    pbm, sil = CLASSES.index("PBM"), CLASSES.index("SIL")
    # The synthetic task: the class is the largest of the first 14 inputs. The base network
    # solves it (hidden units carry +x and -x of those inputs), but hears /p b m/ too often.
    first = np.zeros((100, 2 * len(CLASSES)), np.float32)
    second = np.zeros((2 * len(CLASSES), len(CLASSES)), np.float32)
    for c in range(len(CLASSES)):
        first[c, 2 * c], first[c, 2 * c + 1] = 1.0, -1.0
        second[2 * c, c], second[2 * c + 1, c] = 1.0, -1.0
    weights = (first + rng.normal(0, 0.01, first.shape).astype(np.float32), second)
    biases = (np.zeros(2 * len(CLASSES), np.float32), np.zeros(len(CLASSES), np.float32))
    biases[1][pbm] = 1.0
    base = VisemeModel(context=context, weights=weights, biases=biases)
    x = rng.normal(0, 1, (3000, 100)).astype(np.float32)
    y = (x[:, :len(CLASSES)]).argmax(axis=1)  # a learnable synthetic task
    synthetic = Split(x, y, np.zeros(len(y), int))
    clip = _talking(rng)
    tuned = tune(base, synthetic, [clip], lead=0.04, steps=400)
    inputs, labels = weak_labels(clip, context, lead=0.04)
    before, after = base.forward(inputs), tuned.forward(inputs)
    assert after[labels == 0, pbm].mean() < 0.5 * before[labels == 0, pbm].mean()
    closed = labels == 1
    assert (after[closed, pbm] + after[closed, sil]).mean() > 0.8
    accuracy = [float((model.forward(x).argmax(axis=1) == y).mean()) for model in (base, tuned)]
    assert accuracy[1] > accuracy[0] - 0.03, f"synthetic accuracy {accuracy[0]:.2f} -> {accuracy[1]:.2f}"
