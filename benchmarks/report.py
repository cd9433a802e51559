"""Writing benchmark results into docs/benchmarks.md, one section per benchmark, with machine and date.

Each benchmark owns the text between its two markers, so running one benchmark refreshes its
own section and leaves the others' numbers (and their dates) alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
MEDIA = ROOT.parent / "shared" / "media"
OUT = ROOT / "benchmarks" / "out"

HEADER = """# Benchmarks

Every number here comes from a command in `benchmarks/`, run on the machine named in its section.
Re-run one with `.venv/bin/python -m benchmarks.NAME`; `make bench` runs them all.
"""


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, Python {platform.python_version()}"


def clip_rows(measure: Callable[[Path], dict | None], row: Callable[[str, dict], str],
              columns: int) -> list[str]:
    """One table row per shared clip, printed as it comes: ``row(name, measure(path))``, or a row
    saying no face was followed where ``measure`` returns None (``columns`` cells after the name)."""
    rows = []
    for path in sorted(MEDIA.glob("*.mp4")):
        result = measure(path)
        rows.append(f"| {path.name} | no face followed |{' |' * (columns - 1)}" if result is None
                    else row(path.name, result))
        print(rows[-1], flush=True)
    return rows


def write_section(name: str, title: str, body: str, command: str) -> None:
    """Replace (or append) the section ``name`` of docs/benchmarks.md."""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    text = DOC.read_text() if DOC.exists() else HEADER
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0]
    section = (f"{begin}\n## {title}\n\n`{command}` on {machine()}, {stamp} "
               f"(1-minute load average {load:.1f} as it finished).\n\n"
               f"{body.strip()}\n{end}")
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    DOC.write_text(text)


def repeated_clip(name: str, seconds: float, size: tuple[int, int] | None = None) -> Path:
    """The shared clip ``name`` played over and over to ``seconds``, optionally scaled to ``size``
    (width, height); built once, kept in benchmarks/out.

    Long-clip benchmarks need minutes of real footage; repeating a real clip gives that without
    shipping any, at the cost of one re-encode outside the measurement.
    """
    import cv2

    from openlipsync.media.encode import VideoWriter
    from openlipsync.media.probe import probe_video
    from openlipsync.media.video import read_frames

    scaled = f"_{size[0]}x{size[1]}" if size else ""
    path = OUT / f"{Path(name).stem}{scaled}_{int(seconds)}s.mp4"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    src = media(name)
    info = probe_video(src)
    width, height = size or (info.width, info.height)
    offset = 0.0
    with VideoWriter(path, width, height, info.fps) as writer:
        while offset < seconds:
            for frame in read_frames(src):
                if offset + frame.time >= seconds:
                    break
                image = cv2.resize(frame.image, (width, height), interpolation=cv2.INTER_CUBIC) \
                    if size else frame.image
                writer.write(image, offset + frame.time)
            offset += info.duration
    return path


def media(name: str) -> Path:
    path = MEDIA / name
    if not path.is_file():
        raise SystemExit(f"missing {path}: benchmarks read the real clips from ../shared/media")
    return path


def comparison_args(parser: argparse.ArgumentParser) -> None:
    """The options of a benchmark that compares two engines, each run by its own command.

    ``--engine DIR`` renders with the ``openlipsync`` package in DIR (a ``git worktree`` of an
    earlier commit), so the earlier engine is measured by today's benchmark code; ``--before``
    puts that run's ``--json`` beside this one's (``before -> after``).
    """
    parser.add_argument("--engine", type=Path, help="render with the openlipsync package in this directory")
    parser.add_argument("--label", default="after", help="name of this run")
    parser.add_argument("--json", type=Path, help="this run's figures to this file")
    parser.add_argument("--before", type=Path, help="an earlier run's --json: before -> after")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")


def comparison_options(doc: str, argv: list[str] | None, reportable: bool = False) -> argparse.Namespace:
    """A comparing benchmark's options (``comparison_args``, described by the first line of
    ``doc``), with ``--engine``'s package put first on the path: call before importing openlipsync.

    ``reportable``: the benchmark also takes ``--report``, which measures nothing and writes the
    docs from the run kept in ``--json`` (``reported_run``), so that a before and an after run can
    go side by side with ``--no-doc`` and be reported once both are done."""
    parser = argparse.ArgumentParser(description=doc.split("\n", 1)[0])
    comparison_args(parser)
    if reportable:
        parser.add_argument("--report", action="store_true", help="measure nothing: write the docs of --json")
    args = parser.parse_args(argv)
    if getattr(args, "report", False) and (args.json is None or not args.json.is_file()):
        parser.error("--report needs --json naming a run this benchmark kept")
    use_engine(args)
    return args


def reported_run(args: argparse.Namespace) -> tuple[dict, dict | None] | None:
    """With ``--report``, the run kept in ``--json`` and the one ``--before`` names; else None."""
    if not getattr(args, "report", False):
        return None
    return json.loads(args.json.read_text()), json.loads(args.before.read_text()) if args.before else None


def kept_run(args: argparse.Namespace, engine: dict, figures: dict) -> tuple[dict, dict | None]:
    """A comparing benchmark's run as ``--json`` keeps it (written there when asked), and the
    earlier run ``--before`` names (None without)."""
    result = {"label": args.label, "engine": engine, "figures": figures}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return result, json.loads(args.before.read_text()) if args.before else None


def described_engine(run: dict) -> str:
    """A comparing benchmark's run (its ``engine``, as ``reenact.engine_info`` gives it), for the docs."""
    info = run["engine"]
    dirty = " (with uncommitted changes)" if info["dirty"] else ""
    return f"`{info['path']}` at {info['commit']}{dirty}"


def use_engine(args: argparse.Namespace) -> None:
    """Put ``--engine``'s package first on the path; call before anything imports openlipsync."""
    if args.engine:
        if not (args.engine / "openlipsync" / "__init__.py").is_file():
            raise SystemExit(f"--engine {args.engine}: no openlipsync package there")
        sys.path.insert(0, str(args.engine.resolve()))
