"""The C heap's free pages go back to the kernel during a long decode (media.heap)."""

from __future__ import annotations

import subprocess
import sys

from openlipsync.media import heap
from openlipsync.media.video import read_frames
from tests.conftest import shared_media

_FRAGMENTED = """
import numpy as np
from openlipsync.media import heap
def anon_mib():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("RssAnon:")) / 1024
# 2000 blocks under glibc's mmap threshold, all freed but the last: it pins the heap's top, so
# free() alone gives none of the 125 MiB below it back.
blocks = [np.ones(64 * 1024, np.uint8) for _ in range(2000)]
last = blocks[-1]
del blocks
before = anon_mib()
heap.trim()
print(before - anon_mib())
"""


def test_trim_gives_the_pages_of_freed_blocks_back() -> None:
    done = subprocess.run([sys.executable, "-c", _FRAGMENTED], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) > 100, f"only {float(done.stdout):.0f} MiB of 125 freed went back"


def test_decoding_a_clip_trims_the_heap_as_it_goes(monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(heap, "trim", lambda: calls.append(1))
    frames = sum(1 for _ in read_frames(shared_media("woman_room_landscape.mp4")))
    assert frames == 282 and len(calls) == frames // heap.EVERY == 2
