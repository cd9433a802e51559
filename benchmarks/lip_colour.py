"""Lip colour against new speech: every talking clip in every mode, checked by selfcheck.

    .venv/bin/python -m benchmarks.lip_colour [--engine DIR] [--label NAME] [--json OUT.json]
        [--before EARLIER.json] [--no-doc] [--report]

Each clip of ``benchmarks.quality.PAIRS`` is rendered with a speech track not its own in lite,
standard and pro, and ``../shared/tools/syncjudge/selfcheck IN OUT`` gives the share of output
frames whose lips lie further from the input's median lip colour than the input's own frames
spread (``lip_colour_off``; its motion figures mean nothing against other audio). The input checked
against itself is the floor: a render that kept every real lip would score it, not 0.

This is the colour column of ``benchmarks.modes quality`` without the judge, so a change to the
lips' colour can be measured before and after in a quarter of an hour. ``--engine``, ``--before``:
see ``report.comparison_args``; ``--report``: ``report.comparison_options``.
"""

from __future__ import annotations

import json
import sys
import time

from benchmarks.report import (
    OUT,
    comparison_options,
    described_engine,
    kept_run,
    media,
    reported_run,
    write_section,
)

MODES = ("lite", "standard", "pro")


def main(argv: list[str] | None = None) -> int:
    args = comparison_options(__doc__, argv, reportable=True)
    from benchmarks.quality import PAIRS

    began = time.perf_counter()
    reported = reported_run(args)
    if reported is None:
        result, before = kept_run(args, *_measure(args.label))
        took = f" {(time.perf_counter() - began) / 60:.1f} min."
    else:
        (result, before), took = reported, ""
    if args.no_doc:
        return 0
    figures = result["figures"]

    def cell(clip_name: str, mode: str) -> str:
        now = f"{figures[clip_name][mode]:.3f}"
        return f"{before['figures'][clip_name][mode]:.3f} -> {now}" if before else now

    lines = ["| clip | speech | input's own | " + " | ".join(MODES) + " |",
             "|---|---|---:|" + "---:|" * len(MODES)]
    for clip_name, speech_name in PAIRS:
        lines.append(f"| {clip_name} | {speech_name} | {figures[clip_name]['input']:.3f} | "
                     + " | ".join(cell(clip_name, mode) for mode in MODES) + " |")
    def worst(run: dict, mode: str) -> str:
        return f"{max(run['figures'][c][mode] for c, _ in PAIRS):.3f}"

    lines.append("| **worst** | | | " + " | ".join(
        (f"{worst(before, mode)} -> " if before else "") + worst(result, mode) for mode in MODES) + " |")

    body = ("`lip_colour_off` from `../shared/tools/syncjudge/selfcheck IN OUT`: the share of output "
            "frames whose lips (dlib's contours, CIELAB) lie further than max(8, 3 x spread) from the "
            "input's median lip colour; `input's own` is the input checked against itself. Lower is "
            "better; the bar (issue 12) is 0.02. "
            + (f"Before: engine {described_engine(before)}, label `{before['label']}`; after: " if before
               else "Engine: ")
            + f"{described_engine(result)}, label `{result['label']}`.{took}\n\n"
            + "\n".join(lines))
    write_section("lip-colour", "Lip colour against new speech, every mode", body,
                  " ".join(["python -m benchmarks.lip_colour", *(sys.argv[1:] if argv is None else argv)]))
    return 0


def _measure(label: str) -> tuple[dict, dict[str, dict[str, float]]]:
    """The engine measured and, per clip of ``quality.PAIRS``, the input's and each mode's figure."""
    from benchmarks.quality import PAIRS
    from benchmarks.reenact import engine_info, selfcheck
    from openlipsync.engine.options import RenderOptions
    from openlipsync.engine.render import render

    engine = engine_info()
    print(f"engine: {engine}", flush=True)
    figures: dict[str, dict[str, float]] = {}
    for clip_name, speech_name in PAIRS:
        clip, speech = media(clip_name), media(speech_name)
        row = figures[clip_name] = {"input": selfcheck(clip, clip)["lip_colour_off"]}
        for mode in MODES:
            out = OUT / "lip_colour" / label / f"{clip.stem}_{mode}.mp4"
            out.parent.mkdir(parents=True, exist_ok=True)
            render(clip, speech, out, RenderOptions(mode=mode))
            row[mode] = selfcheck(clip, out)["lip_colour_off"]
        print(clip_name, json.dumps(row), flush=True)
    return engine, figures


if __name__ == "__main__":
    raise SystemExit(main())
