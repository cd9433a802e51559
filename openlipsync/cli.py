"""The `openlipsync` command: one sub-command per job (render, serve, worker, keys, ...)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

# MediaPipe logs through glog/absl to stderr; keep the terminal for our own progress and errors.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _render(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from openlipsync.engine.options import RenderOptions
    from openlipsync.engine.render import render
    from openlipsync.media.errors import MediaError

    options = RenderOptions(mode=args.mode, start=args.start, end=args.end, max_fps=args.max_fps,
                            audio_longer=args.audio_longer, crf=args.crf, preset=args.preset)
    console = Console(stderr=True)
    bar = Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), console=console, transient=args.json, disable=args.quiet)
    tasks: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=max(total, done))

    try:
        with bar:
            summary = render(args.video, args.audio, args.output, options, progress)
    except MediaError as exc:
        console.print(f"[red]error[/red] ({exc.code}): {exc.message}", highlight=False)
        return 2
    if args.json:
        print(json.dumps(summary.to_dict()))
    else:
        console.print(f"wrote {args.output}: {summary.frames} frames at {summary.fps:g} fps, "
                      f"{summary.seconds:g} s, face on {summary.frames_with_face} frames, "
                      f"{summary.elapsed_s:g} s")
        for note in summary.notes:
            console.print(f"note: {note}")
    return 0


def _add_render(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="re-animate the mouth in VIDEO to speak AUDIO")
    p.add_argument("video", type=Path)
    p.add_argument("audio", type=Path, help="speech: an audio file or a video with an audio track")
    p.add_argument("-o", "--output", type=Path, required=True, help="output .mp4")
    p.add_argument("--mode", choices=["lite", "standard", "pro"], default="lite")
    p.add_argument("--start", type=float, default=0.0, help="start of the clip range, seconds")
    p.add_argument("--end", type=float, default=None, help="end of the clip range, seconds")
    p.add_argument("--max-fps", type=float, default=None, help="cap the output frame rate")
    p.add_argument("--audio-longer", choices=["cut", "loop", "pingpong"], default="cut",
                   help="when the audio outlasts the clip: cut it, or repeat the clip")
    p.add_argument("--crf", type=int, default=18, help="x264 quality (lower is better)")
    p.add_argument("--preset", default="veryfast", help="x264 speed preset")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_render)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="openlipsync", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_render(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
