"""Every benchmark in turn, each refreshing its own section of docs/benchmarks.md.

    .venv/bin/python -m benchmarks.run_all      (what `make bench` runs; about two hours on 2 cores)
"""

from __future__ import annotations

import subprocess
import sys

#: (module, extra arguments); each runs in its own process so one's memory cannot skew another's.
BENCHMARKS = [
    ("benchmarks.speed", []),
    ("benchmarks.resolutions", []),  # a few minutes: 480p to 2160p and 60 fps, each against a transcode
    ("benchmarks.memory", []),
    ("benchmarks.memory", ["--long"]),  # about 20 minutes: a 10-minute 1080p render
    ("benchmarks.quality", []),  # lite, with its contact sheet; modes judges all three
    ("benchmarks.modes", []),
    ("benchmarks.painted", []),  # a few minutes: lite's painted mouth on the clip that never opens it
    ("benchmarks.mouth_light", []),  # about 7 minutes: how bright lite's mouth is inside at each opening
    ("benchmarks.people", []),  # a few minutes: the speaker choice on composed clips, tracking cost
    ("benchmarks.tracker", []),  # a few minutes: the landmark model run directly against MediaPipe's graph
    ("benchmarks.key_frames", []),  # a minute: the mesh on key frames only, three ways to fill in the rest
    ("benchmarks.mouth_cost", []),  # two minutes: CPU a frame of the mouth rendering alone, lite, standard
    ("benchmarks.encoder", []),  # a minute: x264 held to AVX2 against its AVX-512 code
    ("benchmarks.throughput", []),
    ("benchmarks.load", []),  # about 3 minutes: concurrent clients, embedded and cluster
    ("benchmarks.reenact", ["--targets"]),  # a minute: the speech targets against the real mouths
    ("benchmarks.reenact", []),  # every synchronous clip re-rendered from its own audio, all modes
    ("benchmarks.reenact", ["--inputs"]),  # a few minutes: each clip against itself, the floor
    ("benchmarks.selfcheck_noise", []),  # about 15 minutes: how far selfcheck moves on re-encoding alone
]


def main() -> int:
    failed = []
    for module, args in BENCHMARKS:
        print(f"== {module} {' '.join(args)}", flush=True)
        if subprocess.run([sys.executable, "-m", module, *args]).returncode != 0:
            failed.append(module)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
