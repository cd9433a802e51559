"""The mouth around the new speech's pauses: every talking clip in every mode, judged.

    .venv/bin/python -m benchmarks.pauses [--engine DIR] [--label NAME] [--json OUT.json]
        [--before EARLIER.json] [--no-doc]

Each clip of ``benchmarks.quality.PAIRS`` is rendered with a speech track not its own in lite,
standard and pro, and judged by ``../shared/tools/syncjudge/run OUT`` (the new audio is OUT's
track): whether the mouth follows the speech (r_best, best_lag), rests in its silences
(silence_ratio: opening in silence over opening in speech) and keeps still there (mouth_jitter,
the median change of opening between two silent frames, against the input's own over the same
frames). These are the judge's columns of ``benchmarks.modes quality`` without its slow
``--reference`` pass and the contact sheets, so a change to what the mouth does in and around
pauses can be measured before and after in well under an hour. ``--engine``, ``--before``: see
``report.comparison_args``.
"""

from __future__ import annotations

import json
import time

from benchmarks.report import OUT, comparison_options, described_engine, kept_run, media, write_section

MODES = ("lite", "standard", "pro")
FIGURES = ("r_best", "best_lag", "silence_ratio", "mouth_jitter")


def main(argv: list[str] | None = None) -> int:
    args = comparison_options(__doc__, argv)
    from benchmarks.quality import PAIRS, judge
    from benchmarks.reenact import engine_info
    from openlipsync.engine.options import RenderOptions
    from openlipsync.engine.render import render

    began = time.perf_counter()
    engine = engine_info()
    print(f"engine: {engine}", flush=True)
    figures: dict[str, dict] = {}
    for clip_name, speech_name in PAIRS:
        clip, speech = media(clip_name), media(speech_name)
        real = judge(clip, audio=speech)
        row = figures[clip_name] = {"input_jitter": real["mouth_jitter"],
                                    "silent_frames": real["silent_frames"]}
        for mode in MODES:
            out = OUT / "pauses" / args.label / f"{clip.stem}_{mode}.mp4"
            out.parent.mkdir(parents=True, exist_ok=True)
            render(clip, speech, out, RenderOptions(mode=mode))
            judged = judge(out)
            row[mode] = {name: judged[name] for name in FIGURES}
        print(clip_name, json.dumps(row), flush=True)
    result, before = kept_run(args, engine, figures)
    if args.no_doc:
        return 0

    def cell(clip_name: str, mode: str, name: str) -> str:
        def shown(run: dict) -> str:
            value = run["figures"][clip_name][mode][name]
            return str(value) if name == "best_lag" else f"{value:.2f}"

        return f"{shown(before)} -> {shown(result)}" if before else shown(result)

    lines = ["| clip | speech | silent frames | mode | r_best | best_lag | silence_ratio | mouth_jitter "
             "(input) |", "|---|---|---:|---|---:|---:|---:|---:|"]
    for clip_name, speech_name in PAIRS:
        row = figures[clip_name]
        for mode in MODES:
            lines.append(f"| {clip_name} | {speech_name} | {row['silent_frames']} | {mode} | "
                         + " | ".join(cell(clip_name, mode, name) for name in FIGURES)
                         + f" ({row['input_jitter']:.2f}) |")
    body = ("`../shared/tools/syncjudge/run OUT` on each clip rendered with a speech track not its own: "
            "`silent frames` are the frames where the new speech is silent (the judge's envelope), "
            "`silence_ratio` the mouth's opening there over its opening in speech (lower: it rests), "
            "`mouth_jitter` the median change of opening between two silent frames, in brackets the "
            "input's own over the same frames (issue 12's bar: not above it on a clip with at least 20 "
            "silent pairs). "
            + (f"Before: engine {described_engine(before)}, label `{before['label']}`; after: " if before
               else "Engine: ")
            + f"{described_engine(result)}, label `{args.label}`. "
            f"{(time.perf_counter() - began) / 60:.1f} min.\n\n" + "\n".join(lines))
    write_section("pauses", "Pauses in the new speech: the judge, every mode", body,
                  "python -m benchmarks.pauses")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
