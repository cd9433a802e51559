"""Fit the real-mouth readout (``openlipsync/engine/readout.py``) on the shared talking clips.

    python -m training.readout.fit [--out openlipsync/engine/assets/readout.npz]
                                   [--heldout-dir training/data/readout] [--report FILE]

Each clip of ``../shared/media`` whose own audio is synchronous with its mouth (MEDIA.md; the
list is ``benchmarks.reenact.CLIPS``) is tracked with the engine's own tracker; its measured
width (``calibration.measured_mouth``) is the target, the front end's posteriors
and relative loudness around each frame the inputs. A ridge regression, heavily shrunk because
eight people are few, is fitted on every clip and shipped.

The same fit with each clip left out in turn is written to ``--heldout-dir/<clip>.npz``: the
report's figures come from those, each on the one clip its fit never saw, and the re-enactment
benchmark renders each clip with its own held-out readout (``--readout-dir``), so no figure in
docs/benchmarks.md is measured on a clip the readout learned from. About a minute.
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
from openlipsync.engine.phonetics import shipped_model
from openlipsync.engine.readout import READOUT_PATH, SPREAD_SHARE, TAPS, Readout, frame_inputs
from openlipsync.engine.speech import analyse_speech
from openlipsync.media.audio import iter_audio
from openlipsync.media.probe import probe_video
from openlipsync.media.video import read_frames

#: Ridge penalty in frames' worth of evidence per (standardised) input: the held-out figures
#: rose up to about this much shrinkage and flattened there.
RIDGE = 3000.0
LEAD = 0.04  # the speech stage's default lead: inputs are read where it reads them
_NEARLY_CLOSED = 0.1  # measured opening (share of the speaker's wide opening) that counts as closed
_LIMIT = 1.5  # widths beyond this (target units) are tracking glitches, which must not pull the fit


@dataclass
class ClipData:
    name: str
    inputs: np.ndarray  # (N, F)
    mouth: np.ndarray  # (N, 2) measured opening and width, NaN without a face
    own_wav: Path
    times: np.ndarray


def load_clip(name: str, work: Path) -> ClipData:
    """Track ``name``, measure its mouth, and read the front end on its own audio."""
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
    level = 10.0 * np.log10(np.maximum(hops.bands["speech"], 1e-12))
    posteriors = shipped_model().posteriors(hops.mel)
    at = np.array(times)
    return ClipData(name, frame_inputs(posteriors, level, hops.hop, at + LEAD, TAPS),
                    np.stack([opening, width], axis=1), inputs.own_wav, at)


def fit(clips: list[ClipData], column: int = 1) -> Readout:
    """Ridge regression on the clips' frames with a face, scaled to SPREAD_SHARE of the real spread.
    ``column`` picks the measured mouth's opening (0) or width (1, what ships)."""
    x = np.concatenate([c.inputs for c in clips])
    y = np.concatenate([c.mouth[:, column] for c in clips])
    keep = np.isfinite(y)
    x, y = x[keep], np.clip(y[keep], -_LIMIT, _LIMIT)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    design = np.concatenate([np.ones((len(x), 1)), (x - mean) / scale], axis=1)
    penalty = RIDGE * np.eye(design.shape[1])
    penalty[0, 0] = 0.0
    coef = np.linalg.solve(design.T @ design + penalty, design.T @ y)
    coef[1:] *= SPREAD_SHARE * y.std() / max(float((design @ coef).std()), 1e-9)
    return Readout(taps=TAPS.copy(), mean=mean, scale=scale, coef=coef)


def _r(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    return round(float(np.corrcoef(a[ok], b[ok])[0, 1]), 3) if ok.sum() > 10 else float("nan")


def evaluate(clip: ClipData, readout_path: Path, opening: Readout) -> dict:
    """r of the speech stage's opening and width (with this readout) with the mouth measured on
    ``clip``; and what limits the opening (docs/engine.md): ``opening`` is a readout of it fitted
    without ``clip``, scored with and without the speech stage's closures, which are set against
    how often the real mouth is nearly closed while speaking."""
    targets = analyse_speech(iter_audio(clip.own_wav, rate=RATE), RATE, clip.times, readout=readout_path)
    read = np.where(targets.speech, opening.predict(clip.inputs), 0.0)
    speaking = targets.speech & np.isfinite(clip.mouth[:, 0])
    return {"frames": len(clip.times), "open_r": _r(targets.open, clip.mouth[:, 0]),
            "width_r": _r(targets.width, clip.mouth[:, 1]),
            "open_readout_r": _r(read, clip.mouth[:, 0]),
            "open_readout_closed_r": _r(np.where(targets.closed, 0.0, read), clip.mouth[:, 0]),
            "closed_share": round(float(targets.closed[speaking].mean()), 3),
            "real_closed_share": round(float((clip.mouth[speaking, 0] < _NEARLY_CLOSED).mean()), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=READOUT_PATH)
    parser.add_argument("--heldout-dir", type=Path, default=Path("training/data/readout"))
    parser.add_argument("--report", type=Path, help="write the held-out figures here as JSON")
    args = parser.parse_args(argv)
    args.heldout_dir.mkdir(parents=True, exist_ok=True)
    work = args.heldout_dir / "clips"
    work.mkdir(exist_ok=True)
    clips = [load_clip(name, work) for name in CLIPS]
    report: dict = {"ridge": RIDGE, "spread_share": SPREAD_SHARE, "taps_s": TAPS.tolist(), "clips": {}}
    for held in clips:
        path = args.heldout_dir / f"{Path(held.name).stem}.npz"
        fit([c for c in clips if c is not held]).save(path)
        report["clips"][held.name] = evaluate(held, path, fit([c for c in clips if c is not held], column=0))
        print(held.name, json.dumps(report["clips"][held.name]), flush=True)
    for key in ("open_r", "width_r", "open_readout_r", "open_readout_closed_r", "closed_share",
                "real_closed_share"):
        report[f"mean_heldout_{key}"] = round(float(np.mean(
            [row[key] for row in report["clips"].values()])), 3)
    fit(clips).save(args.out)
    print(json.dumps({k: v for k, v in report.items() if k != "clips"}))
    if args.report:
        args.report.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
