"""The `openlipsync` command: one sub-command per job (render, serve, worker, keys, ...)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import NoReturn

from openlipsync.core.quiet import native_stderr_silenced, quiet_third_party

# Before anything imports mediapipe: keep the terminal for our own progress and errors.
quiet_third_party()


class CliError(Exception):
    """A one-line message for the person at the terminal; ``main`` prints it and exits 1."""


class Parser(argparse.ArgumentParser):
    """argparse, with its complaint on one line (the usage is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def face_pick(text: str):
    """``--face``: ``X,Y`` (a point on the face, input pixels), ``X,Y@T`` (at T seconds into the
    input) or ``N`` (the person's index, 0 = the first to appear); an ``argparse`` type."""
    import math

    from openlipsync.engine.options import FacePick

    forms = "X,Y (pixels), X,Y@T (T seconds into the input) or N (the person's index)"
    value = text.strip()
    if "," not in value and "@" not in value:
        try:
            index = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a face: use {forms}") from None
        if index < 0:
            raise argparse.ArgumentTypeError(f"a face index is 0 or more, got {index}")
        return FacePick(index=index)
    point, _, when = value.partition("@")
    parts = point.split(",")
    try:
        if len(parts) != 2 or (_ and not when.strip()):
            raise ValueError
        x, y = (float(part) for part in parts)
        time = float(when) if _ else None
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a face: use {forms}") from None
    if not all(math.isfinite(number) for number in (x, y, time or 0.0)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a face: the numbers must be finite")
    if x < 0 or y < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a point on the face is in the video's pixels, "
                                         f"0 or more (0,0 is the top left corner)")
    if time is not None and time < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the time is seconds into the input, 0 or more")
    return FacePick(x=x, y=y, time=time)


def _check_output(args: argparse.Namespace) -> None:
    """Where the output goes, checked before minutes of rendering (the engine checks the inputs
    first thing, with its own error codes)."""
    out = args.output
    if out.is_dir():
        raise CliError(f"the output {str(out)!r} is a folder; name the .mp4 file to write")
    folder = out.parent
    if not folder.is_dir():
        raise CliError(f"the output folder {str(folder)!r} does not exist; create it first")
    if not os.access(folder, os.W_OK):
        raise CliError(f"the output folder {str(folder)!r} is not writable")


def _render(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from openlipsync.engine.options import RenderOptions
    from openlipsync.engine.render import render
    from openlipsync.media.errors import MediaError

    _check_output(args)
    options = RenderOptions(mode=args.mode, start=args.start, end=args.end, max_fps=args.max_fps,
                            audio_longer=args.audio_longer, crf=args.crf, preset=args.preset,
                            calibration_video=str(args.calibrate) if args.calibrate else None,
                            face=args.face)
    with native_stderr_silenced() as terminal:
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
            # The engine's messages name no paths (they reach API users); here the user is local.
            which = {"invalid_video_file": args.video, "invalid_audio_file": args.audio}.get(exc.code)
            print(f"error ({exc.code}): {f'{which}: ' if which else ''}{exc.message}", file=terminal)
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
    p.add_argument("--face", type=face_pick, default=None, metavar="X,Y[@T]|N",
                   help="whose mouth to re-animate when several people are in view: a point on their "
                        "face in the input's pixels (X,Y; X,Y@T at T seconds into the input, else the "
                        "first frame they appear on), or N, their index in order of first appearance "
                        "(0 = first; the render's notes number them). Default: the engine chooses the "
                        "face that speaks in the input, else the most prominent")
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
    """The database of an existing installation, migrated to this version's schema.

    Never creates one: an admin command run from the wrong folder must say where it looked,
    not answer from a new, empty database (``init`` and ``serve`` create them). ``db upgrade``
    alone may create the tables, in a PostgreSQL database or data folder that already exists:
    that is how a cluster's schema is made before its processes start.
    """
    from openlipsync.store.db import Database, describe, has_schema, upgrade

    settings = _settings(args)
    url = settings.resolved_database_url
    creates_schema = args.command == "db"
    hint = ("run `openlipsync init` to create one, or point --data-dir (or OPENLIPSYNC_DATA_DIR) at "
            "the folder `openlipsync serve` uses (without either: ./openlipsync-data in the current folder)")
    if settings.database_url is None:
        folder = settings.data_dir.resolve()
        if not folder.is_dir():
            raise CliError(f"no data folder at {folder}; {hint}")
        if not creates_schema and not (folder / "openlipsync.db").is_file():
            raise CliError(f"no database at {folder / 'openlipsync.db'}; {hint}")
    elif not creates_schema and not has_schema(url):
        raise CliError(f"the database {describe(url)} has no openlipsync tables; run `openlipsync db "
                       f"upgrade` (or `openlipsync init`, which also makes the first key) here")
    upgrade(url)
    return Database(url)


def _init(args: argparse.Namespace) -> int:
    """Create the data folder and database (or check them) and the first API key."""
    from openlipsync.jobs.accounts.keys import ensure_first_key, list_keys
    from openlipsync.store.db import Database, describe, upgrade

    settings = _settings(args)
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    upgrade(url)
    db = Database(url)
    try:
        secret = ensure_first_key(db, settings.first_key_credits)
        if secret:
            print(f"initialized {describe(url)}")
            print(f"Created the first API key (shown only now; keep it): {secret}")
        else:
            print(f"{describe(url)} was already initialized "
                  f"({_plural(len(list_keys(db)), 'API key')}); nothing changed")
    finally:
        db.dispose()
    return 0


def _print(args: argparse.Namespace, rows: list[dict]) -> None:
    """Rows as JSON lines with --json, else as aligned columns."""
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return
    for row in rows:
        print("  ".join(f"{name}={value}" for name, value in row.items()))


def _say(args: argparse.Namespace, text: str) -> None:
    """What a command did, in words: on stdout, or on stderr when stdout is JSON lines."""
    print(text, file=sys.stderr if getattr(args, "json", False) else sys.stdout)


def _key_row(key, secret: str | None = None) -> dict:
    row = {"id": key.id, "name": key.name, "prefix": key.prefix, "credits": key.credits,
           "revoked": key.revoked_at is not None, "limits": json.loads(key.limits) if key.limits else {}}
    return {**row, "secret": secret} if secret else row


def _plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count} {word if count == 1 else words or word + 's'}"


def _serve(args: argparse.Namespace) -> int:
    from openlipsync.api.server import serve

    serve(_settings(args), args.log_level)
    return 0


def _worker(args: argparse.Namespace) -> int:
    from openlipsync.jobs.queue.worker import run_worker

    return run_worker(_settings(args), args.log_level)


def _keys(args: argparse.Namespace, db, where: str) -> None:
    from openlipsync.jobs.accounts import keys, quotas

    if args.action == "create":
        key, secret = keys.create_key(db, args.name, args.credits)
        _print(args, [_key_row(key, secret)])
        _say(args, f"created key {key.id} ({key.name!r}, {_plural(key.credits, 'credit')}) in {where}; "
                   f"its secret is shown only now, store it safely")
    elif args.action == "list":
        found = keys.list_keys(db)
        _print(args, [_key_row(key) for key in found])
        _say(args, f"{_plural(len(found), 'API key')} in {where}")
    elif args.action == "revoke":
        key = keys.revoke_key(db, args.key_id)
        _say(args, f"revoked key {key.id} ({key.name!r}); requests with it are refused from now on")
    elif args.action == "limits":
        changes = {name: getattr(args, name) for name in quotas.LIMIT_NAMES
                   if getattr(args, name) is not None}
        changes.update(dict.fromkeys(args.reset or [], None))
        overrides = quotas.set_limits(db, args.key_id, changes)
        key = next(key for key in keys.list_keys(db) if key.id == args.key_id)
        _print(args, [{"id": args.key_id, "overrides": overrides, **quotas.effective(key, _settings(args))}])
        _say(args, f"key {args.key_id}: {len(overrides)} limits set for it, the others as configured")


def _credits(args: argparse.Namespace, db, where: str) -> None:
    from openlipsync.jobs.accounts import keys

    balance = keys.add_credits(db, args.key_id, args.amount)
    _print(args, [{"id": args.key_id, "credits": balance}])
    verb = "added" if args.amount >= 0 else "took back"
    _say(args, f"{verb} {_plural(abs(args.amount), 'credit')}: key {args.key_id} now has {balance}")


def _webhooks(args: argparse.Namespace, db, where: str) -> None:
    from openlipsync.jobs.delivery import webhooks

    if args.action == "add":
        hook = webhooks.add_webhook(db, args.url, args.key)
        _print(args, [{"id": hook.id, "url": hook.url, "secret": hook.secret, "key": hook.key_id}])
        listens = f"key {hook.key_id}" if hook.key_id else "every key"
        _say(args, f"added webhook {hook.id} for {hook.url} (events of {listens}); "
                   f"deliveries are signed with its secret")
    elif args.action == "list":
        hooks = webhooks.list_webhooks(db)
        _print(args, [{"id": h.id, "url": h.url, "key": h.key_id, "enabled": h.enabled} for h in hooks])
        _say(args, f"{_plural(len(hooks), 'webhook')} in {where}")
    elif args.action == "remove":
        url, dropped = webhooks.remove_webhook(db, args.webhook_id)
        _say(args, f"removed webhook {args.webhook_id} ({url}) and its {_plural(dropped, 'delivery record')}")
    elif args.action == "deliveries":
        found = webhooks.list_deliveries(db, args.limit)
        _print(args, [{"id": d.id, "webhook": d.webhook_id, "project": d.project_id, "event": d.event,
                       "status": d.status, "attempts": d.attempts, "last_status_code": d.last_status_code,
                       "last_error": d.last_error} for d in found])
        count = _plural(len(found), "webhook delivery", "webhook deliveries")
        _say(args, f"{count}, newest first, in {where}" if found else f"no webhook deliveries in {where}")


def _service(args: argparse.Namespace) -> int:
    """keys / credits / webhooks / db: small operations on an existing database, one per call."""
    db = _database(args)
    where = db.engine.url.render_as_string(hide_password=True)
    try:
        if args.command == "db":
            _say(args, f"{where} has the newest schema")
        else:
            {"keys": _keys, "credits": _credits, "webhooks": _webhooks}[args.command](args, db, where)
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

    p = sub.add_parser("init", parents=[common],
                       help="create the data folder, the database and the first API key (serve does too)")
    p.set_defaults(handler=_init)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="action", required=True)
    p = db.add_parser("upgrade", parents=[common], help="create or migrate the schema (serve does too)")
    p.set_defaults(handler=_service)

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
    parser = Parser(prog="openlipsync", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_render(sub)
    _add_service(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; any failure ends in one line on stderr and a non-zero exit, no traceback."""
    from pydantic import ValidationError

    from openlipsync.jobs.errors import ServiceError
    from openlipsync.jobs.loops import first_line

    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except CliError as exc:
        message = str(exc)
    except ServiceError as exc:
        message = exc.message
    except ValidationError as exc:  # a setting from the environment that does not parse
        message = "; ".join(f"OPENLIPSYNC_{str(e['loc'][0]).upper()}={e.get('input')!r}: {e['msg']}"
                            for e in exc.errors())
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug or an unreachable service: still one line, not a traceback
        message = first_line(exc)
    print(f"error: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
