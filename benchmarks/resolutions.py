"""Lite's speed by input size and frame rate, each against a bare decode + encode of the same input.

The inputs are the 1280x720 30 fps talking clip scaled to 854x480, 1920x1080 and 3840x2160, and
a 60 fps version of it (each frame shown twice, so the face moves as in the original but every
frame is decoded, tracked, re-animated and encoded). They are built once into benchmarks/out,
outside the measurement. Best of 2 runs each.

    .venv/bin/python -m benchmarks.resolutions
"""

from __future__ import annotations

from pathlib import Path

import cv2

from benchmarks.report import OUT, media, write_section
from benchmarks.speed import transcode
from openlipsync.engine.options import RenderOptions
from openlipsync.engine.render import render
from openlipsync.media.encode import VideoWriter
from openlipsync.media.probe import probe_video
from openlipsync.media.video import read_frames

CLIP = "woman_room_landscape.mp4"
SPEECH = "speech_en_20s.wav"
#: (label, width, height, frames per input frame)
INPUTS = (("480p30", 854, 480, 1), ("720p30", 1280, 720, 1), ("1080p30", 1920, 1080, 1),
          ("2160p30", 3840, 2160, 1), ("720p60", 1280, 720, 2))


def built(label: str, width: int, height: int, repeat: int) -> Path:
    """The clip at ``width`` x ``height``, each frame written ``repeat`` times (at CRF 16)."""
    path = OUT / f"resolutions_{label}.mp4"
    if path.exists():
        return path
    source = media(CLIP)
    info = probe_video(source)
    with VideoWriter(path, width, height, info.fps * repeat, crf=16) as writer:
        for frame in read_frames(source):
            image = frame.image
            if (width, height) != (info.width, info.height):
                image = cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC)
            for copy in range(repeat):
                writer.write(image, frame.time + copy / (info.fps * repeat))
    return path


def main(repeats: int = 2) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    speech = media(SPEECH)
    rows = []
    for label, width, height, repeat in INPUTS:
        clip = built(label, width, height, repeat)
        info = probe_video(clip)
        lite = min((render(clip, speech, OUT / "resolutions_lite.mp4") for _ in range(repeats)),
                   key=lambda s: s.elapsed_s)
        frames, base = min((transcode(clip, speech, OUT / "resolutions_base.mp4", lite.crf)
                            for _ in range(repeats)), key=lambda r: r[1])
        fps = lite.frames / lite.elapsed_s
        rows.append(f"| {label} ({info.width}x{info.height}, {info.fps:g} fps) | {lite.frames} | "
                    f"{lite.elapsed_s:.2f} | {fps:.1f} | {fps / info.fps:.2f} | {base:.2f} | "
                    f"{lite.elapsed_s / base:.2f}x | {lite.frames_with_face} |")
        print(rows[-1], flush=True)
    body = f"""Input: `{CLIP}` ({probe_video(media(CLIP)).duration:.1f} s) scaled, or each frame doubled for
60 fps; speech `{SPEECH}`; lite, default options (the CRF lite chose is used for the transcode too).
{RenderOptions().preset} x264 preset. Best of {repeats} runs each.

| input | frames | lite s | frames/s | x real time | transcode s | lite / transcode | with a face |
|---|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}
"""
    print(body)
    write_section("resolutions", "Speed by input size and frame rate (lite)", body,
                  "python -m benchmarks.resolutions")


if __name__ == "__main__":
    main()
