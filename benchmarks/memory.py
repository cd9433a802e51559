"""Peak memory of a lite render for a 10 s and a 60 s clip: long clips must keep flat memory.

Each render runs in a fresh process that reports its own peak RSS, so one run's allocations do
not hide in the next one's number. The long inputs are built from the 1280x720 clip by
repeating it (re-encoded once, outside the measurement).

    .venv/bin/python -m benchmarks.memory          (720p, 10 s against 60 s)
    .venv/bin/python -m benchmarks.memory --long   (1080p, 10 s against 10 minutes)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from benchmarks.report import OUT, media, repeated_clip, write_section

CLIP = "woman_room_landscape.mp4"
SPEECH = "speech_en_33s.mp3"

# VmHWM is the child's own peak: getrusage's ru_maxrss survives fork and exec, so it would
# report at least this benchmark process's own peak.
# RssAnon and RssFile have no peak of their own in /proc, so a thread samples them: the heap, and
# the pages of files mapped into memory (the landmark store), which the kernel can write back
# and drop under pressure.
_CHILD = """
import json, sys, threading, time
peaks = {"RssAnon:": 0, "RssFile:": 0}
def sample():
    while True:
        for line in open("/proc/self/status"):
            key, *value = line.split()
            if key in peaks:
                peaks[key] = max(peaks[key], int(value[0]))
        time.sleep(0.05)
threading.Thread(target=sample, daemon=True).start()
from openlipsync.engine.render import render
summary = render(sys.argv[1], sys.argv[2], sys.argv[3])
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"frames": summary.frames, "seconds": summary.seconds, "peak_mb": peak / 1024,
                  "anon_mb": peaks["RssAnon:"] / 1024, "file_mb": peaks["RssFile:"] / 1024}))
"""


def peak(clip: str) -> dict:
    out = OUT / "memory_out.mp4"
    done = subprocess.run([sys.executable, "-c", _CHILD, clip, str(media(SPEECH)), str(out)],
                          check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true",
                        help="1920x1080, 10 s against 10 minutes (about 20 minutes on 2 cores)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    size, seconds = ((1920, 1080), 600) if args.long else (None, 60)
    short = peak(str(repeated_clip(CLIP, 10, size)))
    long = peak(str(repeated_clip(CLIP, seconds, size)))
    def growth(key: str) -> str:
        return f"{long[key] / short[key] - 1:+.1%}"

    width, height = size or (1280, 720)
    label = f"{seconds // 60} min" if seconds >= 120 else f"{seconds} s"
    body = f"""
Lite render of `{CLIP}` repeated to 10 s and {label} ({width}x{height}, 30 fps), speech `{SPEECH}`
(silence after its end: the mouth rests). Peak RSS is the kernel's own high-water mark; the peaks
of its two parts are sampled every 50 ms: the heap (anonymous), and the pages of mapped files:
the libraries, and the landmark stores (3.7 KB a frame per face, a raw and a smoothed one; on
disk), whose pages each pass over them gives back every 1024 frames (`engine/pages.py`). The two
peaks need not fall at the same moment, so they do not add up to the peak RSS.

| clip | frames | peak RSS (MiB) | heap (MiB) | mapped files (MiB) |
|---|---:|---:|---:|---:|
| 10 s | {short['frames']} | {short['peak_mb']:.0f} | {short['anon_mb']:.0f} | {short['file_mb']:.0f} |
| {label} | {long['frames']} | {long['peak_mb']:.0f} | {long['anon_mb']:.0f} | {long['file_mb']:.0f} |
| growth | | **{growth('peak_mb')}** | {growth('anon_mb')} | {growth('file_mb')} |
"""
    print(body)
    name, title = ("memory-long", "Memory: 10 s vs 10 minutes at 1080p") if args.long \
        else ("memory", "Memory: 10 s vs 60 s")
    command = "python -m benchmarks.memory" + (" --long" if args.long else "")
    write_section(name, title, body, command)


if __name__ == "__main__":
    main()
