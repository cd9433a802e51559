"""Several people: does the engine pick the person the input's own speech drives, and what does
following every face cost?

* Choice: each clip whose own audio is synchronous with its mouth (../shared/media/MEDIA.md) is
  composed (tests/compose.py) small beside a larger talking stranger, on the left and on the
  right, and before a hard cut to the stranger; the input's audio is the clip's own. The engine's
  choice (tracking, own-speech analysis, ``choose_speaker``; no render) must be the clip's person.
* Cost: the tracking stage of a lite render (decoding, every face's mesh, the own speech, the
  choice, and meshing any frame of the chosen person the pass skipped), as the render reports
  it, of 8 s and 20 s side-by-side compositions, in the four ways of ``VARIANTS`` (the baseline:
  the same video with only the speaker followed); runs interleaved, so a busy minute weighs on
  all alike. And, on single-face clips, CPU seconds of the every-face tracker against the
  single-face one it replaced (same frames, decoded beforehand; best of 2).

    .venv/bin/python -m benchmarks.people
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.report import media, write_section
from openlipsync.engine import people
from openlipsync.engine.calibration import own_speech
from openlipsync.engine.face_track import track_faces
from openlipsync.engine.options import RenderOptions
from openlipsync.engine.people import track_people
from openlipsync.engine.render import render
from openlipsync.engine.speaker import find_speaker
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
NEW_SPEECH = "speech_en_20s.wav"
REPEATS = 9


def _choice(path: Path, talking: compose.Region) -> tuple[bool, str, int]:
    """Whether the engine picks the person in ``talking``, its note, and how many of that
    person's frames had to be meshed after the pass (its guess at the speaker was late or wrong)."""
    info = probe_video(path)

    def decoded():
        return (frame.image for frame in read_frames(path))

    found = find_speaker(((f.time, f.image) for f in read_frames(path)), info.width, info.height,
                         own_speech=lambda times: own_speech(path, RATE, times),
                         nominal_times=np.arange(int(round(info.duration * info.fps))) / info.fps,
                         pick=None, offset=0.0, decode_again=decoded)
    choice = found.choice
    if choice.person is None:
        return False, choice.reason, 0
    run = choice.person.runs[0]
    x, y = run.points()[0].mean(axis=0)
    inside = talking.x <= x < talking.x + talking.width and talking.y <= y < talking.y + talking.height
    inside = inside and run.start in talking.frames
    scores = ", ".join(f"{r:.2f}" for _, r in sorted(choice.sync_r.items()))
    return bool(inside), f"{choice.reason} (r {scores})", found.completed


#: How each composition is rendered for the cost: (clip, faces followed at most, side stride).
VARIANTS = {
    "left out": ("one", people._MAX_FACES, people._SIDE_STRIDE),  # the stranger not in the video
    "speaker only": ("two", 1, people._SIDE_STRIDE),  # the same frames, only the speaker followed
    "two": ("two", people._MAX_FACES, people._SIDE_STRIDE),
    "every frame": ("two", people._MAX_FACES, 1),  # both faces meshed on every frame, as before
}


def _tracking_stage(clips: dict[str, Path], talking: compose.Region, folder: Path) -> dict[str, list[float]]:
    """Seconds of a lite render's tracking stage per ``VARIANTS`` entry, ``REPEATS`` times,
    interleaved. With one face followed, the scan ranks the face in ``talking`` first."""
    seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    defaults = people._MAX_FACES, people._SIDE_STRIDE, people.prominence

    def speaker_first(box, width: int, height: int) -> float:
        inside = talking.x <= box.cx < talking.x + talking.width
        inside = inside and talking.y <= box.cy < talking.y + talking.height
        return inside * 1e9 + defaults[2](box, width, height)

    for _ in range(REPEATS):
        for name, (clip, faces, stride) in VARIANTS.items():
            people._MAX_FACES, people._SIDE_STRIDE = faces, stride
            people.prominence = speaker_first if faces == 1 else defaults[2]
            try:
                summary = render(clips[clip], media(NEW_SPEECH), folder / "out.mp4",
                                 RenderOptions(mode="lite"))
            finally:
                people._MAX_FACES, people._SIDE_STRIDE, people.prominence = defaults
            seconds[name].append(summary.stage_seconds["tracking"])
    return seconds


def _cost(source: list[np.ndarray], tracker) -> float:
    """CPU seconds of ``tracker`` over frames decoded beforehand, best of 2."""
    size = (source[0].shape[1], source[0].shape[0])
    best = np.inf
    for _ in range(2):
        cpu = time.process_time()
        tracker(iter(source), *size)
        best = min(best, time.process_time() - cpu)
    return best


def _seconds(values: list[float]) -> str:
    return f"{min(values):.2f}, {float(np.median(values)):.2f}"


def main() -> None:
    rows, right, late = [], 0, 0
    with tempfile.TemporaryDirectory() as folder:
        for name in SPEAKERS:
            stranger = STRANGER[name]
            for layout in ("left", "right", "cut"):
                path = Path(folder) / f"{layout}.mp4"
                if layout == "cut":
                    talking, _ = compose.hard_cut(path, name, stranger)
                else:
                    talking, _ = compose.side_by_side(path, name, stranger, talking_left=layout == "left")
                ok, why, completed = _choice(path, talking)
                right += ok
                late += completed > 0
                picked = "yes" if ok else "**no**"
                rows.append(f"| {name} | {stranger} | {layout} | {picked} | {completed} | {why} |")
                print(rows[-1], flush=True)

    costs = []
    for seconds in (8.0, 20.0):
        with tempfile.TemporaryDirectory() as folder:
            clips = {"one": Path(folder) / "one.mp4", "two": Path(folder) / "two.mp4"}
            talking, _ = compose.side_by_side(clips["two"], SPEAKERS[0], SPEAKERS[1], talking_left=True,
                                              seconds=seconds)
            compose.side_by_side(clips["one"], SPEAKERS[0], None, talking_left=True, seconds=seconds)
            frames = sum(1 for _ in read_frames(clips["two"]))
            ok, _, completed = _choice(clips["two"], talking)
            stage = _tracking_stage(clips, talking, Path(folder))
        median = {name: float(np.median(values)) for name, values in stage.items()}
        base = median["speaker only"]
        costs.append(f"| {seconds:g} s ({frames} frames) | {'yes' if ok else '**no**'} | {completed} | "
                     + " | ".join(_seconds(stage[name]) for name in VARIANTS)
                     + f" | **{median['two'] / base:.2f}x** | {median['every frame'] / base:.2f}x "
                     f"| {median['two'] / median['left out']:.2f}x |\n")
        print(costs[-1], end="", flush=True)
    singles = []
    for name in SINGLE:
        images = [f.image for f in read_frames(media(name), 0.0, 10.0, None)]
        before, after = _cost(images, track_faces), _cost(images, track_people)
        singles.append(f"| {name} | {len(images)} | {before:.2f} | {after:.2f} | {after / before:.2f}x |")
        del images

    body = f"""Choice: the engine picked the person whose own speech plays in **{right} of {len(rows)}**
compositions (each 4 s side by side or 3 s + 3 s across a cut, the speaker small and the
stranger large, both talking). `late`: frames of the chosen person meshed after the pass,
because the pass had followed the other face closely there ({late} of {len(rows)} compositions).

| speaker (its own audio plays) | stranger | layout | picked | late | why (r per person) |
|---|---|---|---|---:|---|
{chr(10).join(rows)}

Cost of a second face: a lite render's tracking stage (decoding, meshes, the own speech, the
choice, late meshes) against `{NEW_SPEECH}`, min and median seconds of {REPEATS} runs
interleaved, of four renders: the composition with the stranger left out of the video (left
out); both people in the video, only the speaker followed (speaker only: the same frames to
decode and the same face's work, so the baseline for what following a second face costs); both
followed (two); both meshed on every frame, as before the pass followed the speaker closely
(every frame). Ratios of medians (sp.: speaker only). A busier video decodes slower: two / left
out counts that too. `picked` and `late` as in the table above, for the composition with both
followed: where the final choice is not the face the pass followed closely, that face's skipped
frames are meshed after the pass (a second decode), and `two` pays for it.

| clip | picked | late | left out | sp. only | two | every frame | two / sp. | every / sp. | two / left out |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|
{"".join(costs)}
The face the pass takes for the speaker is meshed on every frame; the other face on one frame
in {people._SIDE_STRIDE} once it has been in view for {people._SETTLE} frames, its meshes on a
thread of their own while the main thread meshes the speaker. For its first {people._SETTLE}
frames every face is meshed on every frame.

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
