"""Lite-mode speed on a 1280x720 30 fps clip, against a bare decode+encode of the same clip.

Both runs use the same decoder, encoder settings (x264 veryfast, the CRF lite chose) and audio, in the same
process, so the ratio says what the lip-sync work itself costs on this machine.

    .venv/bin/python -m benchmarks.speed
"""

from __future__ import annotations

import time

from benchmarks.report import OUT, media, write_section
from openlipsync.engine.options import RenderOptions
from openlipsync.engine.render import render
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
"""
    print(body)
    write_section("speed", "Speed: lite vs bare transcode", body, "python -m benchmarks.speed")


if __name__ == "__main__":
    main()
