"""The painted inside of the mouth, on the shared clip that never shows its own: figures and a sheet.

    .venv/bin/python -m benchmarks.painted [--engine DIR] [--label NAME] [--json OUT.json]
        [--before EARLIER.json] [--no-doc]

Lite paints teeth, tongue and cavity only where the input never shows this person's mouth open
(``engine/cavity.py``); among the shared clips that is woman_room_landscape.mp4. It is rendered in
lite with a speech track not its own, then judged (r_best, silence_ratio, mouth_jitter against the
input's own) and checked by selfcheck's lip colour against the input's lips: a dark cavity reads as
darkened lips wherever the landmarks' inner lip contour sits a pixel inside it.
``docs/sheets/painted_<label>.png`` shows the 10 output frames over the speech's loudest stretch
(input, then the ``--before`` run's frames if given, then this run's) and three of them at 4x.

``--engine``, ``--before``: see ``report.comparison_args``.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from benchmarks.report import OUT, ROOT, comparison_options, media, write_section

CLIP, SPEECH = "woman_room_landscape.mp4", "speech_en_a.wav"
FIGURES = ("r_best", "silence_ratio", "mouth_jitter", "lip_colour_off")


def main(argv: list[str] | None = None) -> int:
    args = comparison_options(__doc__, argv)
    import openlipsync
    from benchmarks.quality import judge
    from benchmarks.reenact import engine_info, selfcheck
    from benchmarks.sheets import STRIP, decode_frames, loudest_stretch, sheet
    from openlipsync.engine import mouth_shape as ms
    from openlipsync.engine.face_track import track_faces
    from openlipsync.engine.options import RenderOptions
    from openlipsync.engine.render import render

    print(f"engine: {Path(openlipsync.__file__).parent}", flush=True)
    clip, speech = media(CLIP), media(SPEECH)
    out = OUT / "painted" / f"{args.label}.mp4"
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = render(clip, speech, out, RenderOptions(mode="lite"))
    judged = judge(out, reference=clip)
    figures = {key: judged[key] for key in FIGURES[:3]}
    figures["lip_colour_off"] = selfcheck(clip, out)["lip_colour_off"]
    figures["input_mouth_jitter"] = judge(clip, audio=speech)["mouth_jitter"]
    commit = engine_info()["commit"] or "unknown"
    result = {"label": args.label, "commit": commit, "video": str(out), "notes": summary.notes,
              "figures": figures}
    print(json.dumps(result), flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    before = json.loads(args.before.read_text()) if args.before else None

    start = loudest_stretch(speech, summary.fps, summary.frames)
    rows = {"input": decode_frames(clip, start, STRIP)}
    if before and Path(before["video"]).is_file():
        rows[before["label"]] = decode_frames(Path(before["video"]), start, STRIP)
    rows[args.label] = decode_frames(out, start, STRIP)
    track = track_faces(iter(rows["input"]), rows["input"][0].shape[1], rows["input"][0].shape[0])
    scale = float(ms.HeadFrame.from_points(track.points[int(np.argmax(track.ok))]).scale)
    picture = ROOT / "docs" / "sheets" / f"painted_{args.label}.png"
    picture.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(picture), cv2.cvtColor(sheet(rows, track.points[:, list(ms.OUTER)].mean(axis=1), track.ok,
                                                  scale), cv2.COLOR_RGB2BGR))
    if args.no_doc:
        return 0

    def cell(key: str) -> str:
        now = f"{figures[key]:.3f}"
        return f"{before['figures'][key]:.3f} -> {now}" if before else now

    lines = ["| clip | speech | " + " | ".join(FIGURES) + " | input's mouth_jitter |",
             "|---|---|" + "---:|" * (len(FIGURES) + 1),
             f"| {CLIP} | {SPEECH} | " + " | ".join(cell(key) for key in FIGURES)
             + f" | {figures['input_mouth_jitter']:.3f} |"]
    body = (f"{CLIP} never shows its speaker's mouth open, so lite paints the inside of the mouth "
            f"(`engine/cavity.py`) wherever {SPEECH} opens it. Judged by `../shared/tools/syncjudge/run OUT "
            "--reference IN`; `lip_colour_off` by `../shared/tools/syncjudge/selfcheck IN OUT` (share of "
            "output frames whose lips stray from the input's usual lip colour). "
            + (f"Before: the engine at {before['commit']} (`--engine`, a worktree), same machine and "
               f"session; after: {commit} with this change. " if before else "")
            + "\n\n" + "\n".join(lines)
            + f"\n\nSheet: [painted_{args.label}](sheets/painted_{args.label}.png) (rows: input"
            + (f", {before['label']}" if before else "") + f", {args.label}; then three frames at 4x).")
    write_section("painted-mouth", "The painted inside of the mouth (a clip that never opens it)", body,
                  "python -m benchmarks.painted")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
