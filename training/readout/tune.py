"""Tune the front end's network on real people speaking: a mouth seen open is not a closure.

The network learned its classes from synthetic voices. On recorded speech it hears /p b m/ far
too often: re-enacting the shared talking clips, the speech stage closed the lips on 24% of the
speaking frames, where the real mouths are nearly closed on 1-6% (docs/engine.md), and every
wrong closure shuts a mouth that is visibly open. Nobody labelled the phones of those clips, but
their faces say something about them: where the lips stay apart over three frames, no bilabial
closure happened there; where they are together while the person speaks, the sound is a closure
(or a pause). So the network keeps its synthetic training (the same class-weighted
cross-entropy, so the classes and the phoneme tests hold) and learns from the real clips' frames
as weak labels: -log(1 - P(PBM)) on the hops of an open mouth, -log(P(PBM) + P(SIL)) on a
closed one. Clips whose mouth is nearly closed on most speaking frames (it barely moves) give no
closed labels: there a closed mouth says nothing about the sound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openlipsync.engine.phonetics import VisemeModel, log_mel_normalised, model_inputs
from openlipsync.engine.visemes import CLASSES
from training.visemes.train import Adam, Split, backward, class_weights, cross_entropy, forward

OPEN = 0.2  # measured opening (share of the speaker's wide opening) that is clearly apart ...
OPEN_SPAN = 1  # ... on this many frames either side as well
CLOSED = 0.1  # ... and that is nearly closed
#: A clip whose mouth is nearly closed on more of its speaking frames than this barely moves.
_STILL_MOUTH = 0.5
WEAK_WEIGHT = 10.0  # the weak labels' loss against the synthetic cross-entropy's
STEPS = 3000
LEARNING_RATE = 1e-4
_SYNTHETIC_BATCH, _REAL_BATCH = 512, 128
_PBM, _SIL = CLASSES.index("PBM"), CLASSES.index("SIL")


@dataclass
class RealSpeech:
    """What one real clip says about its sounds: its own audio and its measured mouth."""

    mel: np.ndarray  # (H, B) mel power of its own audio
    hop: float
    times: np.ndarray  # (N,) frame times (s)
    opening: np.ndarray  # (N,) calibration.measured_mouth opening, NaN without a face
    speech: np.ndarray  # (N,) bool: the speech stage's speech gate


def weak_labels(clip: RealSpeech, context: np.ndarray, lead: float) -> tuple[np.ndarray, np.ndarray]:
    """(model inputs, label: 0 open, 1 closed) of the hops around each labelled speaking frame;
    a frame shows the sound ``lead`` seconds after it."""
    features = log_mel_normalised(clip.mel)
    o = clip.opening
    speaking = clip.speech & np.isfinite(o)
    closed_labels = speaking.any() and (o[speaking] < CLOSED).mean() <= _STILL_MOUTH
    hops, labels = [], []
    for k in np.flatnonzero(speaking):
        around = o[max(k - OPEN_SPAN, 0):k + OPEN_SPAN + 1]
        if len(around) == 2 * OPEN_SPAN + 1 and np.all(around >= OPEN):
            label = 0
        elif closed_labels and o[k] < CLOSED:
            label = 1
        else:
            continue
        h = round((clip.times[k] + lead) / clip.hop)
        for hh in (h - 1, h, h + 1):
            if 0 <= hh < len(features):
                hops.append(hh)
                labels.append(label)
    inputs = model_inputs(features, context)[np.array(hops, np.int64)]
    return inputs.astype(np.float32), np.array(labels, np.int64)


def _weak_gradient(p: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Gradient at the logits of the weak labels' mean loss (see the module's docstring)."""
    grad = np.zeros_like(p)
    open_, closed = labels == 0, labels == 1
    pbm = p[open_, _PBM]
    onehot = np.zeros(len(CLASSES), p.dtype)
    onehot[_PBM] = 1
    grad[open_] = (pbm / np.maximum(1 - pbm, 1e-6))[:, None] * (onehot[None, :] - p[open_])
    member = np.zeros(len(CLASSES), p.dtype)
    member[[_PBM, _SIL]] = 1
    together = p[closed, _PBM] + p[closed, _SIL]
    grad[closed] = p[closed] - p[closed] * member[None, :] / np.maximum(together, 1e-6)[:, None]
    return grad / max(len(labels), 1)


def tune(base: VisemeModel, synthetic: Split, clips: list[RealSpeech], *, lead: float,
         steps: int = STEPS, seed: int = 0) -> VisemeModel:
    """``base`` trained on: ``synthetic`` (its labelled hops, as in training) and ``clips``' weak labels."""
    rng = np.random.default_rng(seed)
    weights, biases = [w.copy() for w in base.weights], [b.copy() for b in base.biases]
    keep = synthetic.y >= 0
    x, y = synthetic.x[keep], synthetic.y[keep]
    class_weight = class_weights(y)
    labelled = [weak_labels(clip, base.context, lead) for clip in clips]
    real_x = np.concatenate([inputs for inputs, _ in labelled])
    real_y = np.concatenate([labels for _, labels in labelled])
    opt = Adam(weights + biases, LEARNING_RATE)
    for _ in range(steps):
        pick = rng.integers(0, len(x), _SYNTHETIC_BATCH)
        acts, p = forward(weights, biases, x[pick])
        batches = [(acts, cross_entropy(p, y[pick], class_weight)[0])]
        if len(real_y):
            pick = rng.integers(0, len(real_y), _REAL_BATCH)
            acts, p = forward(weights, biases, real_x[pick])
            batches.append((acts, WEAK_WEIGHT * _weak_gradient(p, real_y[pick])))
        opt.step(backward(weights, batches), LEARNING_RATE)
    return VisemeModel(context=base.context, weights=tuple(weights), biases=tuple(biases))
