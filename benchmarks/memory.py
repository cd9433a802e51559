"""Peak memory of a lite render for a 10 s and a 60 s clip: long clips must keep flat memory.

Each render runs in a fresh process that reports its own peak RSS, so one run's allocations do
not hide in the next one's number. The long inputs are built from the 1280x720 clip by
repeating it (re-encoded once, outside the measurement).

    .venv/bin/python -m benchmarks.memory
"""

from __future__ import annotations

import json
import subprocess
import sys

from benchmarks.report import OUT, media, repeated_clip, write_section

CLIP = "woman_room_landscape.mp4"
SPEECH = "speech_en_33s.mp3"

# VmHWM is the child's own peak: getrusage's ru_maxrss survives fork and exec, so it would
# report at least this benchmark process's own peak.
_CHILD = """
import json, sys
from openlipsync.engine.render import render
summary = render(sys.argv[1], sys.argv[2], sys.argv[3])
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"frames": summary.frames, "seconds": summary.seconds, "peak_mb": peak / 1024}))
"""


def peak(clip: str) -> dict:
    out = OUT / "memory_out.mp4"
    done = subprocess.run([sys.executable, "-c", _CHILD, clip, str(media(SPEECH)), str(out)],
                          check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    short, long = peak(str(repeated_clip(CLIP, 10))), peak(str(repeated_clip(CLIP, 60)))
    growth = long["peak_mb"] / short["peak_mb"] - 1
    body = f"""
Lite render of `{CLIP}` repeated to 10 s and 60 s (1280x720, 30 fps), speech `{SPEECH}`.

| clip | frames | peak RSS (MiB) |
|---|---:|---:|
| 10 s | {short['frames']} | {short['peak_mb']:.0f} |
| 60 s | {long['frames']} | {long['peak_mb']:.0f} |

The 60 s clip peaks **{growth:+.1%}** relative to the 10 s clip.
"""
    print(body)
    write_section("memory", "Memory: 10 s vs 60 s", body, "python -m benchmarks.memory")


if __name__ == "__main__":
    main()
