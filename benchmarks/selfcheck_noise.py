"""How far selfcheck's figures move when the mouth does not: the re-enactment tables' noise.

    .venv/bin/python -m benchmarks.selfcheck_noise

A change to the engine that touches a few frames moves x264's decisions on every frame after them:
two renders that differ in a handful of mouths differ by a level or two a pixel everywhere, and
dlib's landmarks, which selfcheck compares with the real mouth's, follow those pixels. Each
synchronous clip is re-enacted in lite exactly as ``benchmarks.reenact`` does it (its video without
its audio track, rendered from that audio, shipped front end), checked as rendered, then re-encoded
from those very frames at two x264 CRFs (``judge_noise.reencode``) and checked again. Nothing about
its mouth changes, so whatever a figure does across the three is noise: a before -> after step in
the re-enactment tables smaller than a clip's spread here says nothing about that clip.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.judge_noise import CRFS, reencode
from benchmarks.reenact import CLIPS, FIGURES, prepare, render_and_check, selfcheck
from benchmarks.report import OUT, write_section
from openlipsync.engine.options import RenderOptions


def _spread(runs: list[dict], figure: str) -> float:
    values = [run[figure] for run in runs]
    return max(values) - min(values)


def main() -> None:
    names = [figure for figure, _ in FIGURES]
    lines = ["| clip | frames | " + " | ".join(f"{f}: as is, CRF {CRFS[0]}, CRF {CRFS[1]}" for f in names)
             + " | " + " | ".join(f"{f} spread" for f in names) + " |",
             "|---|---:|" + "---|" * len(names) + "---:|" * len(names)]
    spreads: dict[str, list[float]] = {figure: [] for figure in names}
    with tempfile.TemporaryDirectory() as work:
        for name in CLIPS:
            inputs = prepare(name, Path(work))
            rendered = OUT / "selfcheck_noise" / f"{Path(name).stem}_lite.mp4"
            rendered.parent.mkdir(parents=True, exist_ok=True)
            runs = [render_and_check(inputs.clip, inputs.silent, inputs.own_wav, rendered,
                                     RenderOptions(mode="lite"))]
            runs += [selfcheck(inputs.clip, reencode(rendered, crf)) for crf in CRFS]
            for figure in names:
                spreads[figure].append(_spread(runs, figure))
            lines.append(f"| {name} | {runs[0]['frames']} | "
                         + " | ".join(", ".join(f"{run[f]:.3f}" for run in runs) for f in names) + " | "
                         + " | ".join(f"{_spread(runs, f):.3f}" for f in names) + " |")
            print(lines[-1], flush=True)
    means = [f"{sum(v) / len(v):.3f}" for v in spreads.values()]
    lines.append("| " + " | ".join(["**mean**", "", *[""] * len(names), *means]) + " |")
    body = ("Each synchronous clip re-enacted in lite as in the re-enactment tables (its silent video "
            "rendered from its own audio, shipped front end), checked by "
            "`../shared/tools/syncjudge/selfcheck` as rendered, then re-encoded from the same decoded "
            f"frames with x264 at CRF {CRFS[0]} and {CRFS[1]} and checked again. The mouth is the same in "
            "all three; a figure that moves between them moves by noise alone. `spread`: the largest "
            "minus the smallest of the three. Read a re-enactment table's before -> after on a clip "
            "against its spread here. (A second encode loses a little of the picture, so ssim_mouth "
            "mostly falls across the three; the other figures move either way.)\n\n"
            + "\n".join(lines))
    write_section("selfcheck-noise", "Selfcheck's noise: the same re-enacted frames, encoded three ways",
                  body, "python -m benchmarks.selfcheck_noise")


if __name__ == "__main__":
    main()
