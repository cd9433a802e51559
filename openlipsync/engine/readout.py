"""From what the front end hears to how a real mouth moves: a readout fitted on real talking clips.

The front end (``phonetics``) learned its classes from synthetic voices, whose phones are crisp;
on recorded speech its posteriors are softer and its timing less certain, and the articulation
table (``visemes``) is a phonetician's idealisation, not a measured mouth. Re-enacting real
clips, the table's width followed the real mouth's at r = 0.19. So three quarters of the width
and half of the opening that drive the renderers are read from the posteriors and loudness around
each frame (+-120 ms) by a ridge regression fitted on the tracked mouths of real people speaking
(``training/readout``); each clip left out in turn, the mixes follow the mouth the fit did not
see better than the table alone (docs/engine.md). The table's share keeps the contrast between
sounds that the phoneme tests ask for, which a regression alone flattens.

The posteriors are a narrow window on what the network heard: fourteen classes learned from
synthetic phones. The network's last hidden layer (256 units, over the frame's own window) carries
more of the sound than the classes keep, so the readout reads it too. A linear readout of that
layer is a projection of it, so the speech stage asks the network for the projected hop values
(:meth:`Readout.hidden_projection`), two numbers per hop, never the layer itself.

Regression also averages away what it cannot predict, which would leave lips moving at about a
third of a real mouth's range; the movement is scaled up to :data:`SPREAD_SHARE` of the real
mouths' spread, which the held-out error barely notices (docs/engine.md).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from openlipsync.engine.frame_windows import frame_spans, window_mean
from openlipsync.engine.visemes import CLASSES

READOUT_PATH = Path(__file__).with_name("assets") / "readout.npz"
#: What the readout predicts, one column each: the width (+ spread, - rounded, speech targets'
#: units) and the opening (a share of the speaker's wide opening).
TARGETS = ("width", "open")
#: Offsets (s) of the frame-sized windows summarised for each frame: lips lead and lag the sound.
TAPS = np.round(np.arange(-0.12, 0.121, 0.04), 3)
#: Share of the real mouths' movement (standard deviation) the predictions are scaled to.
SPREAD_SHARE = 0.6
_LOUD_PERCENTILE, _FLOOR_PERCENTILE, _MAX_RANGE_DB = 95, 10, 50.0
_BLOCK = 2048  # frames whose inputs are built at once
_PER_TAP = len(CLASSES) + 1  # posteriors and relative level


def relative_level(level_db: np.ndarray) -> np.ndarray:
    """Each hop's level between the track's floor (0) and its loud speech (1): gain-free loudness."""
    level_db = np.asarray(level_db, np.float64)
    if len(level_db) == 0:
        return level_db
    loud = float(np.percentile(level_db, _LOUD_PERCENTILE))
    floor = max(float(np.percentile(level_db, _FLOOR_PERCENTILE)), loud - _MAX_RANGE_DB)
    return np.clip((level_db - floor) / max(loud - floor, 1e-6), -0.5, 1.5)


def frame_inputs(posteriors: np.ndarray, level_db: np.ndarray, hop: float, times: np.ndarray,
                 taps: np.ndarray = TAPS, hidden: np.ndarray | None = None) -> np.ndarray:
    """(N, len(taps) * (classes + 1) [+ units]) inputs of the frames at ``times``: posteriors and
    relative level averaged over a frame-sized window at each tap, then, given the network's
    (H, units) last hidden layer, its mean over the frame's own window (0, silence, past the
    audio). Training and inference share it (inference through the projection)."""
    times = np.asarray(times, np.float64)
    inputs = _inputs(*_per_hop(posteriors, level_db), hop, times, taps)
    if hidden is None:
        return inputs
    return np.concatenate([inputs, window_mean(hidden, hop, *frame_spans(times, hop), 0.0)], axis=1)


def _per_hop(posteriors: np.ndarray, level_db: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each hop's posteriors and relative level side by side, and their quietest values (what a
    window past the end of the audio reads)."""
    per_hop = np.concatenate([np.asarray(posteriors, np.float64), relative_level(level_db)[:, None]], axis=1)
    quiet = per_hop.min(axis=0) if len(per_hop) else np.zeros(per_hop.shape[1])
    return per_hop, quiet


def _inputs(per_hop: np.ndarray, quiet: np.ndarray, hop: float, times: np.ndarray,
            taps: np.ndarray) -> np.ndarray:
    return np.concatenate([window_mean(per_hop, hop, *frame_spans(times + tap, hop), quiet) for tap in taps],
                          axis=1)


@dataclass(frozen=True)
class Readout:
    """Linear in the standardised frame inputs, one column per target (:data:`TARGETS`)."""

    taps: np.ndarray
    mean: np.ndarray  # (F,) input centre
    scale: np.ndarray  # (F,) input spread
    coef: np.ndarray  # (F + 1, len(TARGETS)): intercept, then one weight per input

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """(N, len(TARGETS)) per frame: width, opening."""
        x = (np.asarray(inputs, np.float64) - self.mean) / self.scale
        return self.coef[0] + x @ self.coef[1:]

    @property
    def units(self) -> int:
        """How many of the network's hidden units the readout reads (0: posteriors only)."""
        return len(self.mean) - len(self.taps) * _PER_TAP

    def hidden_projection(self) -> np.ndarray | None:
        """(units, len(TARGETS)) what each hidden unit adds per unit of activation, for
        ``VisemeModel.hear(mel, project=...)``; None when the readout reads no hidden layer."""
        if self.units == 0:
            return None
        first = len(self.taps) * _PER_TAP
        return self.coef[1 + first:] / self.scale[first:, None]

    def predict_at(self, posteriors: np.ndarray, level_db: np.ndarray, hop: float,
                   times: np.ndarray, projected: np.ndarray | None = None) -> np.ndarray:
        """``predict(frame_inputs(...))`` of the frames at ``times``, a block of frames at a time,
        with the hidden layer's part from ``projected`` (the hops' hidden layer times
        :meth:`hidden_projection`): averaging over a window and projecting commute.

        A 10-minute clip's inputs are (18000, 105) float64, 15 MB, built from as many per-tap pieces
        and standardised into a copy: built whole, they raised the speech stage's peak heap from
        13 to 46 MiB (10 s -> 10 min of frames, tracemalloc); in blocks, to 26 MiB."""
        first = len(self.taps) * _PER_TAP
        projection = self.hidden_projection()
        if projection is not None and projected is None:
            raise ValueError("this readout reads the network's hidden layer: pass its projection")
        hidden_centre = 0.0 if projection is None else self.mean[first:] @ projection
        per_hop, quiet = _per_hop(posteriors, level_db)
        times = np.asarray(times, np.float64)
        blocks = []
        for i in range(0, len(times), _BLOCK):
            at = times[i: i + _BLOCK]
            x = (_inputs(per_hop, quiet, hop, at, self.taps) - self.mean[:first]) / self.scale[:first]
            predicted = self.coef[0] + x @ self.coef[1:1 + first]
            if projection is not None:
                predicted += window_mean(projected, hop, *frame_spans(at, hop), 0.0) - hidden_centre
            blocks.append(predicted)
        return np.concatenate(blocks) if blocks else np.zeros((0, self.coef.shape[1]))

    def save(self, path: str | Path) -> None:
        np.savez(path, taps=self.taps, mean=self.mean, scale=self.scale, coef=self.coef)

    @classmethod
    def load(cls, path: str | Path) -> Readout:
        with np.load(path, allow_pickle=False) as data:
            readout = cls(taps=data["taps"], mean=data["mean"], scale=data["scale"], coef=data["coef"])
        if readout.coef.ndim != 2 or readout.coef.shape[1] != len(TARGETS):
            raise ValueError(f"{path} predicts {readout.coef.shape[1:]} targets, not {TARGETS}: "
                             "it was fitted by an older training (make train-visemes)")
        return readout


@functools.lru_cache(maxsize=4)
def load_readout(path: str | Path = READOUT_PATH) -> Readout:
    """A readout file, loaded once per process (the shipped one by default)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path} is missing: the package ships it (make train-visemes)")
    return Readout.load(path)
