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

from benchmarks.report import OUT, media, write_section
from openlipsync.media.encode import VideoWriter
from openlipsync.media.probe import probe_video
from openlipsync.media.video import read_frames

CLIP = "woman_room_landscape.mp4"
SPEECH = "speech_en_33s.mp3"

_CHILD = """
import json, resource, sys
from openlipsync.engine.render import render
summary = render(sys.argv[1], sys.argv[2], sys.argv[3])
print(json.dumps({"frames": summary.frames, "seconds": summary.seconds,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def repeated_clip(seconds: float) -> str:
    """The benchmark clip repeated to ``seconds`` (built once, kept in benchmarks/out)."""
    path = OUT / f"memory_{int(seconds)}s.mp4"
    if path.exists():
        return str(path)
    src = media(CLIP)
    info = probe_video(src)
    offset = 0.0
    with VideoWriter(path, info.width, info.height, info.fps) as writer:
        while offset < seconds:
            for frame in read_frames(src):
                if offset + frame.time >= seconds:
                    break
                writer.write(frame.image, offset + frame.time)
            offset += info.duration
    return str(path)


def peak(clip: str) -> dict:
    out = OUT / "memory_out.mp4"
    done = subprocess.run([sys.executable, "-c", _CHILD, clip, str(media(SPEECH)), str(out)],
                          check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    short, long = peak(repeated_clip(10)), peak(repeated_clip(60))
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
