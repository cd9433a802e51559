"""Fit the front end to real mouths: tune its network, then fit the readout, on the shared talking clips.

    python -m training.readout.fit [--base training/data/visemes_base.npz]
                                   [--corpus training/data/corpus.npz]
                                   [--visemes-out openlipsync/engine/assets/visemes.npz]
                                   [--out openlipsync/engine/assets/readout.npz]
                                   [--heldout-dir training/data/readout] [--report FILE]
    python -m training.readout.fit --readout-only   # refit the readouts, keep the networks

Each clip of ``../shared/media`` whose own audio is synchronous with its mouth (MEDIA.md; the
list is ``benchmarks.reenact.CLIPS``) is tracked with the engine's own tracker and its mouth
measured (``calibration.measured_mouth``). Two things learn from them, in turn:

1. The network that ``training.visemes.train`` trained on synthetic voices (``--base``) is tuned
   on the clips' open and closed mouths as weak labels (``tune.py``), beside its synthetic corpus.
2. The readout of the width and the opening: the measured mouth is the target, the tuned
   network's posteriors and relative loudness around each frame, and its last hidden layer at the
   frame, the inputs. A ridge regression, heavily shrunk because eight people are few.

Both are done on every clip and shipped. Both are also done with each clip left out in turn and
written to ``--heldout-dir/<clip>.visemes.npz`` and ``<clip>.npz``: the report's figures come
from those, each on the one clip neither saw, and the re-enactment benchmark renders each clip
with its own held-out pair (``--readout-dir``), so no figure in docs/benchmarks.md is measured on
a clip the front end learned from. About five minutes.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.reenact import CLIPS, RATE, prepare
from openlipsync.engine.audio_features import hop_features
from openlipsync.engine.calibration import measured_mouth
from openlipsync.engine.face_track import track_faces
from openlipsync.engine.phonetics import MODEL_PATH, VisemeModel
from openlipsync.engine.readout import (
    READOUT_PATH,
    SPREAD_SHARE,
    TAPS,
    TARGETS,
    Readout,
    frame_inputs,
    load_readout,
)
from openlipsync.engine.speech import analyse_speech
from openlipsync.engine.visemes import ARTICULATORS
from openlipsync.media.audio import iter_audio
from openlipsync.media.probe import probe_video
from openlipsync.media.video import read_frames
from training.readout.tune import CLOSED, RealSpeech, tune
from training.visemes.train import evaluate as evaluate_network
from training.visemes.train import load_split, save

#: Ridge penalty in frames' worth of evidence per (standardised) input. With the hidden layer's 256
#: inputs beside the 105 of the posteriors, the held-out figures rose up to about this much
#: shrinkage (with the posteriors alone, to about 3000); at 100000 they held, but the opening of
#: espeak-ng's /s z t d/ rose past what tests/test_phonetics.py allows: the contrast flattens.
RIDGE = 30000.0
LEAD = 0.04  # the speech stage's default lead: inputs are read where it reads them
_LIMIT = 1.5  # widths and openings past this (target units) are tracking glitches, kept out of the fit
_MEASURED = {"open": 0, "width": 1}  # columns of the measured mouth


@dataclass
class ClipData:
    name: str
    inputs: np.ndarray  # (N, F)
    mouth: np.ndarray  # (N, 2) measured opening and width, NaN without a face
    own_wav: Path
    times: np.ndarray


@dataclass
class RealClip:
    """A talking clip as the training sees it, whichever network listens to it."""

    name: str
    speech: RealSpeech
    level: np.ndarray  # (H,) dB of its own audio's speech band per hop
    mouth: np.ndarray  # (N, 2) measured opening and width, NaN without a face
    own_wav: Path


def load_clip(name: str, work: Path) -> RealClip:
    """Track ``name``, measure its mouth, and analyse its own audio."""
    inputs = prepare(name, work)
    info = probe_video(inputs.clip)
    times: list[float] = []

    def images():
        for frame in read_frames(inputs.clip):
            times.append(frame.time)
            yield frame.image

    track = track_faces(images(), info.width, info.height, expected_frames=inputs.frames)
    opening, width = measured_mouth(track, np.arange(len(times)))
    hops = hop_features(iter_audio(inputs.own_wav, rate=RATE), RATE)
    at = np.array(times)
    speech = analyse_speech(iter_audio(inputs.own_wav, rate=RATE), RATE, at).speech
    return RealClip(name, RealSpeech(hops.mel, hops.hop, at, opening, speech),
                    10.0 * np.log10(np.maximum(hops.bands["speech"], 1e-12)),
                    np.stack([opening, width], axis=1), inputs.own_wav)


def clip_data(clip: RealClip, network: VisemeModel) -> ClipData:
    """The readout's inputs of ``clip``'s frames, as ``network`` hears its audio."""
    speech = clip.speech
    heard = network.hear(speech.mel, np.eye(network.units, dtype=np.float32))  # the hidden layer itself
    inputs = frame_inputs(heard.posteriors, clip.level, speech.hop, speech.times + LEAD, TAPS,
                          heard.projected)
    return ClipData(clip.name, inputs, clip.mouth, clip.own_wav, speech.times)


def fit(clips: list[ClipData]) -> Readout:
    """Ridge regression on the clips' frames with a face, one column per target (the measured
    width, then the opening: :data:`TARGETS`), each scaled to SPREAD_SHARE of the real spread."""
    x = np.concatenate([c.inputs for c in clips])
    mouth = np.concatenate([c.mouth for c in clips])
    y = mouth[:, [_MEASURED[target] for target in TARGETS]]
    keep = np.isfinite(y).all(axis=1)
    x, y = x[keep], np.clip(y[keep], -_LIMIT, _LIMIT)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    design = np.concatenate([np.ones((len(x), 1)), (x - mean) / scale], axis=1)
    penalty = RIDGE * np.eye(design.shape[1])
    penalty[0, 0] = 0.0
    coef = np.linalg.solve(design.T @ design + penalty, design.T @ y)
    coef[1:] *= SPREAD_SHARE * y.std(axis=0) / np.maximum((design @ coef).std(axis=0), 1e-9)
    return Readout(taps=TAPS.copy(), mean=mean, scale=scale, coef=coef)


def _r(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    return round(float(np.corrcoef(a[ok], b[ok])[0, 1]), 3) if ok.sum() > 10 else float("nan")


def evaluate(clip: ClipData, readout_path: Path, visemes_path: Path) -> dict:
    """r of the speech stage's opening and width (with this readout) with the mouth measured on
    ``clip``; the opening also from the articulation table alone and from the readout alone (the
    stage mixes them), each with the stage's closures; and how often the stage closes the lips,
    set against how often the real mouth is nearly closed while speaking."""
    targets = analyse_speech(iter_audio(clip.own_wav, rate=RATE), RATE, clip.times, readout=readout_path,
                             visemes=visemes_path)
    read = np.clip(load_readout(readout_path).predict(clip.inputs)[:, TARGETS.index("open")], 0.0, 1.0)
    table = targets.articulation[:, ARTICULATORS.index("open")]
    speaking = targets.speech & np.isfinite(clip.mouth[:, 0])
    return {"frames": len(clip.times), "open_r": _r(targets.open, clip.mouth[:, 0]),
            "width_r": _r(targets.width, clip.mouth[:, 1]),
            "open_table_r": _r(np.where(targets.closed, 0.0, table), clip.mouth[:, 0]),
            "open_readout_r": _r(np.where(targets.closed, 0.0, read), clip.mouth[:, 0]),
            "closed_share": round(float(targets.closed[speaking].mean()), 3),
            "real_closed_share": round(float((clip.mouth[speaking, 0] < CLOSED).mean()), 3)}


def refit_readouts(visemes: Path, out: Path, heldout_dir: Path, clips: list[RealClip]) -> None:
    """The shipped readout fitted again on the network at ``visemes``, and each held-out readout
    in ``heldout_dir`` on its own held-out network, wherever one is there."""
    network = VisemeModel.load(visemes)
    fit([clip_data(c, network) for c in clips]).save(out)
    for held in clips:
        stem = heldout_dir / Path(held.name).stem
        if stem.with_suffix(".visemes.npz").is_file():
            own = VisemeModel.load(stem.with_suffix(".visemes.npz"))
            fit([clip_data(c, own) for c in clips if c is not held]).save(stem.with_suffix(".npz"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, default=Path("training/data/visemes_base.npz"),
                        help="the network trained on synthetic voices (training.visemes.train --out)")
    parser.add_argument("--corpus", type=Path, default=Path("training/data/corpus.npz"))
    parser.add_argument("--visemes-out", type=Path, default=MODEL_PATH)
    parser.add_argument("--out", type=Path, default=READOUT_PATH)
    parser.add_argument("--heldout-dir", type=Path, default=Path("training/data/readout"))
    parser.add_argument("--report", type=Path, help="write the held-out figures here as JSON")
    parser.add_argument("--readout-only", action="store_true",
                        help="keep the networks (the shipped one at --visemes-out, the held-out ones in "
                             "--heldout-dir) and refit only the readouts on them, shipped and held out (no "
                             "tuning, no figures): for a readout whose inputs or fit changed")
    args = parser.parse_args(argv)
    args.heldout_dir.mkdir(parents=True, exist_ok=True)
    work = args.heldout_dir / "clips"
    work.mkdir(exist_ok=True)
    if args.readout_only:
        clips = [load_clip(name, work) for name in CLIPS]
        refit_readouts(args.visemes_out, args.out, args.heldout_dir, clips)
        return 0
    base = VisemeModel.load(args.base)
    synthetic = load_split(args.corpus, "train")
    clips = [load_clip(name, work) for name in CLIPS]
    report: dict = {"ridge": RIDGE, "spread_share": SPREAD_SHARE, "taps_s": TAPS.tolist(), "clips": {}}

    def fitted(using: list[RealClip], visemes: Path, readout: Path) -> VisemeModel:
        """The network tuned and the readout fitted on ``using``, both saved; the network."""
        network = tune(base, synthetic, [c.speech for c in using], lead=LEAD)
        save(network, visemes, {"tuned_on": [c.name for c in using]})
        fit([clip_data(c, network) for c in using]).save(readout)
        return network

    for held in clips:
        others = [c for c in clips if c is not held]
        stem = args.heldout_dir / Path(held.name).stem
        visemes, readout = stem.with_suffix(".visemes.npz"), stem.with_suffix(".npz")
        network = fitted(others, visemes, readout)
        row = evaluate(clip_data(held, network), readout, visemes)
        report["clips"][held.name] = row
        print(held.name, json.dumps(row), flush=True)
    for key in ("open_r", "width_r", "open_table_r", "open_readout_r", "closed_share", "real_closed_share"):
        report[f"mean_heldout_{key}"] = round(float(np.mean(
            [row[key] for row in report["clips"].values()])), 3)
    shipped = fitted(clips, args.visemes_out, args.out)
    voices = load_split(args.corpus, "heldout")
    report["heldout_voices"] = {"base": evaluate_network(base, voices),
                                "tuned": evaluate_network(shipped, voices)}
    print(json.dumps({k: v for k, v in report.items() if k != "clips"}))
    if args.report:
        args.report.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
