"""Lite-mode speed on a 1280x720 30 fps clip, against a bare decode+encode of the same clip.

Both runs use the same decoder, encoder settings (x264 veryfast, the CRF lite chose) and audio, in the same
process, so the ratio says what the lip-sync work itself costs on this machine.

    .venv/bin/python -m benchmarks.speed
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np

from benchmarks.report import OUT, media, write_section
from openlipsync.engine.composite import paste
from openlipsync.engine.lite import LiteRenderer
from openlipsync.engine.options import RenderOptions
from openlipsync.engine.people import track_people
from openlipsync.engine.render import SPEECH_RATE, render
from openlipsync.engine.speech import analyse_speech
from openlipsync.media.audio import iter_audio
from openlipsync.media.encode import VideoWriter
from openlipsync.media.probe import probe_video
from openlipsync.media.video import read_frames

CLIP = "woman_room_landscape.mp4"
SPEECH = "speech_en_20s.wav"


def transcode(clip, speech, out, crf: int) -> tuple[int, float]:
    info = probe_video(clip)
    began, frames = time.perf_counter(), 0
    with VideoWriter(out, info.width, info.height, info.fps, audio_path=speech, crf=crf) as writer:
        for frame in read_frames(clip):
            writer.write(frame.image, frame.time)
            frames += 1
    return frames, time.perf_counter() - began


@contextmanager
def _cpu_seconds(spent: dict[str, float], name: str):
    """Record in ``spent[name]`` the CPU seconds of all this process's threads inside the block."""
    began = time.process_time()
    yield
    spent[name] = time.process_time() - began


def cpu_budget(clip, speech, crf: int) -> dict[str, float]:
    """CPU seconds of each stage of a lite render, each pass streaming over the clip on its own.

    Wall time on two cores hides where the work goes (the passes overlap decoding, tracking,
    rendering and encoding on threads); CPU time adds up, and says what the fastest possible
    schedule of the same work on this machine would be.
    """
    info = probe_video(clip)
    spent: dict[str, float] = {}
    with _cpu_seconds(spent, "decode"):
        for _ in read_frames(clip):
            pass
    with _cpu_seconds(spent, "tracking pass"):
        cast = track_people((f.image for f in read_frames(clip)), info.width, info.height)
        track = cast.track(cast.people[0] if cast.people else None)
    targets = analyse_speech(iter_audio(speech, rate=SPEECH_RATE), SPEECH_RATE,
                             np.arange(len(track.ok)) / info.fps)
    renderer = LiteRenderer(track, targets, frame_rate=info.fps)
    with _cpu_seconds(spent, "rendering pass"):
        for k, frame in enumerate(read_frames(clip)):
            drawn = renderer.render(frame.image, track.points[k], k) if track.ok[k] else None
            if drawn is not None:
                paste(frame.image, *drawn)
    with _cpu_seconds(spent, "transcode"):
        transcode(clip, speech, OUT / "speed_transcode.mp4", crf)
    decode = spent["decode"]
    return {"decode": decode, "encode": spent["transcode"] - decode,
            "face tracking": spent["tracking pass"] - decode,
            "mouth rendering": spent["rendering pass"] - decode}


def _budget_table(cpu: dict[str, float], base_s: float) -> str:
    transcode_cpu = cpu["decode"] + cpu["encode"]
    lite_cpu = transcode_cpu + cpu["decode"] + cpu["face tracking"] + cpu["mouth rendering"]
    rows = ["| stage | CPU s | in the transcode | in lite |", "|---|---:|:---:|:---:|"]
    rows += [f"| decode | {cpu['decode']:.2f} | once | twice (tracking pass, rendering pass) |",
             f"| encode (x264, AAC, mux) | {cpu['encode']:.2f} | yes | yes |",
             f"| face tracking (cuts, detector, mesh, smoothing) | {cpu['face tracking']:.2f} | | yes |",
             f"| mouth rendering (warp, cavity, paste) | {cpu['mouth rendering']:.2f} | | yes |"]
    floor, lean = lite_cpu / 2, (lite_cpu - cpu["decode"]) / 2
    room, added = 2 * TARGET * base_s - transcode_cpu, lite_cpu - transcode_cpu
    verdict = ("within it" if added <= room
               else f"{added - room:.2f} CPU s too many, even with both cores always busy")
    return "\n".join([
        *rows, "",
        f"The transcode is {transcode_cpu:.2f} CPU s, lite {lite_cpu:.2f} CPU s. Spread perfectly over both "
        f"cores, lite would need {floor:.2f} s ({floor / base_s:.2f}x the transcode's {base_s:.2f} s), and "
        f"{lean:.2f} s ({lean / base_s:.2f}x) without its second decode. The {TARGET:g}x target leaves "
        f"{room:.2f} CPU s on two cores for everything lite adds to the transcode; it adds {added:.2f}: "
        f"{verdict}.",
    ])


#: Lite's target against the bare transcode of the same clip (issue 15).
TARGET = 1.6


def main(repeats: int = 2) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    clip, speech = media(CLIP), media(SPEECH)
    info = probe_video(clip)
    runs = [render(clip, speech, OUT / "speed_lite.mp4", RenderOptions(mode="lite")) for _ in range(repeats)]
    lite = min(runs, key=lambda s: s.elapsed_s)
    bases = [transcode(clip, speech, OUT / "speed_transcode.mp4", lite.crf) for _ in range(repeats)]
    base = min(bases, key=lambda r: r[1])
    base_fps, lite_fps = base[0] / base[1], lite.frames / lite.elapsed_s
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in lite.stage_seconds.items())
    body = f"""
Clip: `{CLIP}` ({info.width}x{info.height}, {info.fps:g} fps, {info.duration:.1f} s, {lite.frames} frames),
speech `{SPEECH}` (cut to the clip), x264 veryfast CRF {lite.crf} for both. Best of {repeats} runs each.

| run | seconds | frames/s | x real time |
|---|---:|---:|---:|
| bare decode + encode (baseline) | {base[1]:.2f} | {base_fps:.1f} | {base_fps / info.fps:.2f} |
| lite render | {lite.elapsed_s:.2f} | {lite_fps:.1f} | {lite_fps / info.fps:.2f} |

Lite takes **{lite.elapsed_s / base[1]:.2f}x** the baseline's time. Stages: {stages}.

Where the time goes: CPU seconds of each stage, each measured on a streaming pass of its own.

{_budget_table(cpu_budget(clip, speech, lite.crf), base[1])}
"""
    print(body)
    write_section("speed", "Speed: lite vs bare transcode", body, "python -m benchmarks.speed")


if __name__ == "__main__":
    main()
