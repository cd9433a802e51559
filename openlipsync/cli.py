"""The `openlipsync` command: one sub-command per job (render, serve, worker, keys, ...)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

# MediaPipe logs through glog/absl to stderr; keep the terminal for our own progress and errors.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def _terminal_only_for_us() -> Iterator[TextIO]:
    """Silence native stderr (MediaPipe's C++ logging ignores Python) and hand back the real one.

    Yields a text stream on the original stderr for our own progress bar and messages.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    stream = os.fdopen(os.dup(saved), "w", buffering=1)
    try:
        yield stream
    finally:
        stream.flush()
        os.dup2(saved, 2)
        os.close(saved)
        stream.close()


def _render(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from openlipsync.engine.options import RenderOptions
    from openlipsync.engine.render import render
    from openlipsync.media.errors import MediaError

    options = RenderOptions(mode=args.mode, start=args.start, end=args.end, max_fps=args.max_fps,
                            audio_longer=args.audio_longer, crf=args.crf, preset=args.preset,
                            calibration_video=str(args.calibrate) if args.calibrate else None)
    with _terminal_only_for_us() as terminal:
        console = Console(file=terminal, stderr=True)
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
            print(f"error ({exc.code}): {exc.message}", file=terminal)
            return 2
    console = Console(stderr=True)
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
    p.add_argument("--crf", type=int, default=None,
                   help="x264 quality (lower is better); default: chosen so untouched pixels stay faithful")
    p.add_argument("--preset", default="veryfast", help="x264 speed preset")
    p.add_argument("--calibrate", type=Path, default=None, metavar="CLIP",
                   help="a clip of the same person speaking in sync, to learn how their mouth moves "
                        "(default: the input's own speech, where it follows the mouth)")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_render)


def _settings(args: argparse.Namespace):
    from openlipsync.core.config import Settings

    workers = 0 if getattr(args, "no_worker", False) else getattr(args, "workers", None)
    given = {"data_dir": args.data_dir, "host": getattr(args, "host", None),
             "port": getattr(args, "port", None), "workers": workers}
    return Settings(**{name: value for name, value in given.items() if value is not None})


def _database(args: argparse.Namespace):
    from openlipsync.store.db import Database, upgrade

    settings = _settings(args)
    upgrade(settings.resolved_database_url)
    return Database(settings.resolved_database_url)


def _print(args: argparse.Namespace, rows: list[dict]) -> None:
    """Rows as JSON lines with --json, else as aligned columns."""
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return
    for row in rows:
        print("  ".join(f"{name}={value}" for name, value in row.items()))


def _key_row(key, secret: str | None = None) -> dict:
    row = {"id": key.id, "name": key.name, "prefix": key.prefix, "credits": key.credits,
           "revoked": key.revoked_at is not None, "limits": json.loads(key.limits) if key.limits else {}}
    return {**row, "secret": secret} if secret else row


def _serve(args: argparse.Namespace) -> int:
    from openlipsync.api.server import serve

    serve(_settings(args), args.log_level)
    return 0


def _worker(args: argparse.Namespace) -> int:
    from openlipsync.jobs.queue.worker import run_worker

    return run_worker(_settings(args), args.log_level)


def _service(args: argparse.Namespace) -> int:
    """keys / credits / webhooks / db: small operations on the database, one per invocation."""
    from openlipsync.jobs.accounts import keys as accounts
    from openlipsync.jobs.accounts import quotas
    from openlipsync.jobs.delivery import webhooks
    from openlipsync.jobs.errors import ServiceError

    db = _database(args)
    try:
        action = (args.command, getattr(args, "action", None))
        if action == ("keys", "create"):
            key, secret = accounts.create_key(db, args.name, args.credits)
            _print(args, [_key_row(key, secret)])
            if not args.json:
                print("The secret is shown only now; store it safely.", file=sys.stderr)
        elif action == ("keys", "list"):
            _print(args, [_key_row(key) for key in accounts.list_keys(db)])
        elif action == ("keys", "revoke"):
            accounts.revoke_key(db, args.key_id)
        elif action == ("keys", "limits"):
            changes = {name: getattr(args, name) for name in quotas.LIMIT_NAMES
                       if getattr(args, name) is not None}
            changes.update(dict.fromkeys(args.reset or [], None))
            overrides = quotas.set_limits(db, args.key_id, changes)
            key = next(key for key in accounts.list_keys(db) if key.id == args.key_id)
            _print(args, [{"id": args.key_id, "overrides": overrides,
                           **quotas.effective(key, _settings(args))}])
        elif action == ("credits", "add"):
            _print(args, [{"id": args.key_id, "credits": accounts.add_credits(db, args.key_id, args.amount)}])
        elif action == ("webhooks", "add"):
            hook = webhooks.add_webhook(db, args.url, args.key)
            _print(args, [{"id": hook.id, "url": hook.url, "secret": hook.secret, "key": hook.key_id}])
        elif action == ("webhooks", "list"):
            _print(args, [{"id": h.id, "url": h.url, "key": h.key_id, "enabled": h.enabled}
                          for h in webhooks.list_webhooks(db)])
        elif action == ("webhooks", "remove"):
            webhooks.remove_webhook(db, args.webhook_id)
        elif action == ("webhooks", "deliveries"):
            _print(args, [{"id": d.id, "webhook": d.webhook_id, "project": d.project_id, "event": d.event,
                           "status": d.status, "attempts": d.attempts, "last_status_code": d.last_status_code,
                           "last_error": d.last_error} for d in webhooks.list_deliveries(db, args.limit)])
    except ServiceError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    return 0


def _add_service(sub: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=None,
                        help="data folder (default: $OPENLIPSYNC_DATA_DIR or ./openlipsync-data)")
    listing = argparse.ArgumentParser(add_help=False)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")

    p = sub.add_parser("serve", parents=[common], help="run the API, the web page and the render workers")
    p.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--workers", type=int, default=None, help="renders at once (default 1; 0: none)")
    p.add_argument("--no-worker", action="store_true",
                   help="run the API only (a cluster's `openlipsync worker` processes render)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(handler=_serve)

    p = sub.add_parser("worker", parents=[common],
                       help="render jobs from the Celery broker (needs OPENLIPSYNC_BROKER_URL)")
    p.add_argument("--workers", "--concurrency", dest="workers", type=int, default=None,
                   help="renders at once in this worker (default: $OPENLIPSYNC_WORKERS or 1)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(handler=_worker)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", parents=[common], help="apply migrations (serve does this too)").set_defaults(
        handler=lambda args: _database(args).dispose())

    from openlipsync.jobs.accounts.quotas import LIMIT_NAMES

    keys = sub.add_parser("keys", help="API keys (each key is an account with credits)")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    p = keys_sub.add_parser("create", parents=[common, listing], help="new key; its secret is shown once")
    p.add_argument("--name", required=True)
    p.add_argument("--credits", type=int, default=0)
    keys_sub.add_parser("list", parents=[common, listing])
    keys_sub.add_parser("revoke", parents=[common]).add_argument("key_id")
    p = keys_sub.add_parser("limits", parents=[common, listing],
                            help="lift or tighten one key's limits (0: no limit); prints those in force")
    p.add_argument("key_id")
    for name in LIMIT_NAMES:
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int, default=None, metavar="N",
                       help=f"default: $OPENLIPSYNC_{name.upper()}")
    p.add_argument("--reset", action="append", choices=LIMIT_NAMES, metavar="LIMIT",
                   help="back to the default (repeatable)")
    keys.set_defaults(handler=_service)

    credits = sub.add_parser("credits", help="credit balances").add_subparsers(dest="action", required=True)
    p = credits.add_parser("add", parents=[common, listing], help="add (or, negative, remove) credits")
    p.add_argument("key_id")
    p.add_argument("amount", type=int)
    p.set_defaults(handler=_service)

    hooks = sub.add_parser("webhooks", help="webhook endpoints")
    hooks_sub = hooks.add_subparsers(dest="action", required=True)
    p = hooks_sub.add_parser("add", parents=[common, listing], help="register URL; prints its signing secret")
    p.add_argument("url")
    p.add_argument("--key", default=None, help="only events of this key id (default: all keys)")
    hooks_sub.add_parser("list", parents=[common, listing])
    hooks_sub.add_parser("remove", parents=[common]).add_argument("webhook_id")
    p = hooks_sub.add_parser("deliveries", parents=[common, listing], help="recent deliveries, newest first")
    p.add_argument("--limit", type=int, default=50)
    hooks.set_defaults(handler=_service)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="openlipsync", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_render(sub)
    _add_service(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
