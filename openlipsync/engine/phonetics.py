"""The learned phonetic front end: log-mel hops in, viseme-class posteriors per 10 ms hop out.

A small multilayer perceptron over +-200 ms of log-mel context, trained in this repository
(``make train-visemes``, ``training/visemes``) on synthetic speech with exact phone times, from
many voices and languages, augmented with noise, reverberation, equalisation, pitch shifts and
lossy codecs. It ships as numpy arrays (``assets/visemes.npz``, well under a megabyte) and runs
with numpy alone: a few matrix products per second of audio.

Features are normalised per track (each band's mean and spread over the track's speech), which
takes out the microphone's colour and the recording's gain. Training and inference share
:func:`model_inputs`, so the model sees exactly what it was trained on.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from openlipsync.engine.visemes import CLASSES

MODEL_PATH = Path(__file__).with_name("assets") / "visemes.npz"
#: Hops within this many dB of the track's loud level are speech for the normalisation statistics;
#: everything is floored further below it (digital silence carries no information).
_SPEECH_RANGE_DB = 35.0
_FLOOR_DB = 70.0
_CLIP = 6.0  # normalised values beyond this many spreads are outliers (clicks, clipping)
_BLOCK = 4096  # hops per matrix product: bounded memory on long tracks


def log_mel_normalised(mel: np.ndarray) -> np.ndarray:
    """(H, B) mel power -> (H, B) log-mel with each band centred and scaled on the track's speech."""
    mel = np.asarray(mel, np.float64)
    if len(mel) == 0:
        return np.zeros(mel.shape, np.float32)
    energy = 10.0 * np.log10(np.maximum(mel.sum(axis=1), 1e-15))
    loud = float(np.percentile(energy, 95))
    db = 10.0 * np.log10(np.maximum(mel, 1e-15))
    db = np.maximum(db, loud - _FLOOR_DB - 10.0 * np.log10(mel.shape[1]))
    speech = energy >= loud - _SPEECH_RANGE_DB
    if speech.sum() < 10:
        speech = np.ones(len(db), bool)
    mean, spread = db[speech].mean(axis=0), np.maximum(db[speech].std(axis=0), 1.0)
    return np.clip((db - mean) / spread, -_CLIP, _CLIP).astype(np.float32)


def model_inputs(features: np.ndarray, context: np.ndarray, rows: slice | None = None) -> np.ndarray:
    """Each hop's features stacked with its neighbours' at ``context`` offsets (edges repeat).

    ``rows`` picks which hops to build (all by default), so long tracks are stacked a block at a time.
    """
    count = len(features)
    rows = rows or slice(0, count)
    index = np.arange(count)[rows]
    taps = np.clip(index[:, None] + np.asarray(context)[None, :], 0, max(count - 1, 0))
    return features[taps].reshape(len(index), -1)


@dataclass(frozen=True)
class VisemeModel:
    """The trained network: ReLU layers, then a softmax over :data:`visemes.CLASSES`."""

    context: np.ndarray  # (T,) int: hop offsets stacked into each input
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]

    @classmethod
    def load(cls, path: str | Path = MODEL_PATH) -> VisemeModel:
        with np.load(path, allow_pickle=False) as data:
            classes = tuple(str(c) for c in data["classes"])
            if classes != CLASSES:
                raise ValueError(f"{path} was trained for classes {classes}, the engine has {CLASSES}")
            layers = sorted(int(k[1:]) for k in data.files if k.startswith("w"))
            return cls(context=data["context"].astype(np.int64),
                       weights=tuple(data[f"w{i}"].astype(np.float32) for i in layers),
                       biases=tuple(data[f"b{i}"].astype(np.float32) for i in layers))

    @property
    def units(self) -> int:
        """Width of the last hidden layer (what :meth:`hear` projects)."""
        return int(self.weights[-1].shape[0])

    def posteriors(self, mel: np.ndarray) -> np.ndarray:
        """(H, len(CLASSES)) class probabilities for a track's (H, B) mel power."""
        return self.hear(mel).posteriors

    def hear(self, mel: np.ndarray, project: np.ndarray | None = None) -> Heard:
        """The posteriors of a track's (H, B) mel power and, with ``project`` (U, K), its last
        hidden layer times ``project``: the readout reads that layer too, and a projection of a
        few columns per hop keeps a long track's memory small where the layer itself is 256."""
        features = log_mel_normalised(mel)
        posteriors = np.zeros((len(features), len(CLASSES)), np.float32)
        projected = None if project is None else np.zeros((len(features), project.shape[1]), np.float32)
        for start in range(0, len(features), _BLOCK):
            rows = slice(start, min(start + _BLOCK, len(features)))
            hidden = self._hidden(model_inputs(features, self.context, rows))
            posteriors[rows] = self._classify(hidden)
            if projected is not None:
                projected[rows] = hidden @ project
        return Heard(posteriors, projected)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._classify(self._hidden(x))

    def _hidden(self, x: np.ndarray) -> np.ndarray:
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            x = np.maximum(x @ w + b, 0.0)
        return x

    def _classify(self, hidden: np.ndarray) -> np.ndarray:
        logits = hidden @ self.weights[-1] + self.biases[-1]
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Heard:
    """What the network makes of a track, per 10 ms hop."""

    posteriors: np.ndarray  # (H, len(CLASSES))
    projected: np.ndarray | None  # (H, K) the last hidden layer times a projection, when asked


@functools.lru_cache(maxsize=4)
def load_model(path: str | Path = MODEL_PATH) -> VisemeModel:
    """A model file, loaded once per process (the shipped one by default)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path} is missing: the package ships it (make train-visemes)")
    return VisemeModel.load(path)
