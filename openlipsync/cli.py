"""The `openlipsync` command: one sub-command per job (render, serve, worker, keys, ...)."""

from __future__ import annotations

import argparse
import os
import sys

# MediaPipe logs through glog/absl to stderr; keep the terminal for our own progress and errors.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="openlipsync", description=__doc__)
    parser.add_subparsers(dest="command", required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
