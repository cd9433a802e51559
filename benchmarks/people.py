"""Several people: does the engine pick the person the input's own speech drives, and what does
following every face cost?

* Choice: each clip whose own audio is synchronous with its mouth (../shared/media/MEDIA.md) is
  composed (tests/compose.py) small beside a larger talking stranger, on the left and on the
  right, and before a hard cut to the stranger; the input's audio is the clip's own. The engine's
  choice (tracking, own-speech analysis, ``choose_speaker``; no render) must be the clip's person.
* Cost: CPU seconds of the tracking pass over the same side-by-side frames with the stranger
  there and with the stranger blanked out; and, on single-face clips, the every-face tracker
  against the single-face one it replaced (same frames, decoded beforehand). Best of 2.

    .venv/bin/python -m benchmarks.people
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.report import media, write_section
from openlipsync.engine.calibration import own_speech
from openlipsync.engine.face_track import track_faces
from openlipsync.engine.people import track_people
from openlipsync.engine.speaker import choose_speaker
from openlipsync.media.probe import probe_video
from openlipsync.media.video import read_frames
from tests import compose

SPEAKERS = ("man_bedroom_selfie.mp4", "woman_hairbun_closeup.mp4", "man_talkshow_224.mp4",
            "man_older_interview.mp4", "woman_office_ko_720p.mp4", "man_office_vfr.mp4",
            "woman_flags.mp4", "man_address_fr.mp4")
#: The stranger beside or after each speaker: another synchronous talker, so both mouths move.
STRANGER = {name: SPEAKERS[(i + 1) % len(SPEAKERS)] for i, name in enumerate(SPEAKERS)}
SINGLE = ("woman_room_landscape.mp4", "man_kitchen_portrait_hevc.mp4")
RATE = 16000


def _choice(path: Path, talking: compose.Region) -> tuple[bool, str]:
    """Whether the engine picks the person in ``talking``, and its note."""
    info = probe_video(path)
    frames = list(read_frames(path, 0.0, None, None))
    times = np.array([f.time for f in frames])
    cast = track_people((f.image for f in frames), info.width, info.height)
    choice = choose_speaker(cast, own_speech(path, RATE, times), None, times, 0.0)
    if choice.person is None:
        return False, choice.reason
    run = choice.person.runs[0]
    x, y = run.points()[0].mean(axis=0)
    inside = talking.x <= x < talking.x + talking.width and talking.y <= y < talking.y + talking.height
    inside = inside and run.start in talking.frames
    scores = ", ".join(f"{r:.2f}" for _, r in sorted(choice.sync_r.items()))
    return bool(inside), f"{choice.reason} (r {scores})"


def _cpu(images: list[np.ndarray], tracker) -> float:
    height, width = images[0].shape[:2]
    best = np.inf
    for _ in range(2):
        began = time.process_time()
        tracker(images, width, height)
        best = min(best, time.process_time() - began)
    return best


def main() -> None:
    rows, right = [], 0
    with tempfile.TemporaryDirectory() as folder:
        for name in SPEAKERS:
            stranger = STRANGER[name]
            for layout in ("left", "right", "cut"):
                path = Path(folder) / f"{layout}.mp4"
                if layout == "cut":
                    talking, _ = compose.hard_cut(path, name, stranger)
                else:
                    talking, _ = compose.side_by_side(path, name, stranger, talking_left=layout == "left")
                ok, why = _choice(path, talking)
                right += ok
                rows.append(f"| {name} | {stranger} | {layout} | {'yes' if ok else '**no**'} | {why} |")
                print(rows[-1], flush=True)

    small, large = (224, 210), (320, 320)
    talker = compose._frames(SPEAKERS[0], 0.0, 8.0, small)
    other = compose._frames(SPEAKERS[1], 0.0, 8.0, large)
    backdrop = compose._background(576, 336)
    one, two = [], []
    for a, b in zip(talker, other, strict=False):
        image = backdrop.copy()
        image[118:328, 8:232] = a
        one.append(image.copy())
        image[8:328, 248:568] = b
        two.append(image)
    cost_one, cost_two = _cpu(one, track_people), _cpu(two, track_people)
    singles = []
    for name in SINGLE:
        images = [f.image for f in read_frames(media(name), 0.0, 10.0, None)]
        before, after = _cpu(images, track_faces), _cpu(images, track_people)
        singles.append(f"| {name} | {len(images)} | {before:.2f} | {after:.2f} | {after / before:.2f}x |")
        del images

    body = f"""Choice: the engine picked the person whose own speech plays in **{right} of {len(rows)}**
compositions (each 4 s side by side or 3 s + 3 s across a cut, the speaker small and the
stranger large, both talking).

| speaker (its own audio plays) | stranger | layout | picked | why (r per person) |
|---|---|---|---|---|
{chr(10).join(rows)}

Cost of a second face: tracking {len(two)} frames of the 576x336 side-by-side composition takes
{cost_two:.2f} CPU s with both people and {cost_one:.2f} CPU s with the stranger blanked out:
**{cost_two / cost_one:.2f}x** (every face gets its own mesh on every frame).

Every-face tracker against the single-face tracker it replaced, on single-face clips (first 10 s;
the tracks come out identical):

| clip | frames | single-face CPU s | every-face CPU s | ratio |
|---|---:|---:|---:|---:|
{chr(10).join(singles)}
"""
    write_section("people", "Several people: choice and cost", body, "python -m benchmarks.people")
    print(body)


if __name__ == "__main__":
    main()
