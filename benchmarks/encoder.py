"""x264 on its AVX2 code against its AVX-512 code: the price of reproducible output.

On a CPU with AVX-512 the encoder is held to AVX2 (``media.encode.x264_options``: its AVX-512
code reads memory it never wrote, so the same frames encoded twice could differ). This measures
what that costs: the same frames, already converted, encoded both ways in the same process.

    .venv/bin/python -m benchmarks.encoder
"""

from __future__ import annotations

import time
from fractions import Fraction

import av
import cv2

from benchmarks.report import OUT, media, write_section
from openlipsync.media.encode import x264_options
from openlipsync.media.pixels import rgb_to_frame
from openlipsync.media.probe import probe_video
from openlipsync.media.video import read_frames

CLIP = "woman_room_landscape.mp4"
#: Output sizes: the clip's own, a width x264's AVX-512 code misread (590), and 1080p.
SIZES = ((1280, 720), (590, 332), (1920, 1080))
CRF, PRESET = 18, "veryfast"


def encode(frames: list[av.VideoFrame], fps: float, params: str, path) -> tuple[float, int]:
    """Seconds to encode ``frames`` with ``params`` as x264-params, and the file's bytes."""
    began = time.perf_counter()
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(100000))
        stream.width, stream.height, stream.pix_fmt = frames[0].width, frames[0].height, "yuv420p"
        stream.options = {**x264_options(CRF, PRESET), "x264-params": params}
        stream.codec_context.thread_type = "FRAME"
        for frame in frames:
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return time.perf_counter() - began, path.stat().st_size


def main(repeats: int = 3) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    info = probe_video(media(CLIP))
    images = [f.image for f in read_frames(media(CLIP))]
    chosen = x264_options(CRF, PRESET)["x264-params"]
    ways = {"AVX-512 (x264's own choice)": "bframes=0", "AVX2": "bframes=0:asm=AVX2"}
    rows = ["| size | frames | x264 code | seconds | MB |", "|---|---:|---|---:|---:|"]
    ratios = []
    for width, height in SIZES:
        frames = [rgb_to_frame(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))
                  for image in images]
        best = {}
        for name, params in ways.items():
            runs = [encode(frames, info.fps, params, OUT / "encoder.mp4") for _ in range(repeats)]
            best[name] = min(runs)
            seconds, size = best[name]
            rows.append(f"| {width}x{height} | {len(frames)} | {name} | {seconds:.2f} | {size / 1e6:.2f} |")
        ratios.append(best["AVX2"][0] / best["AVX-512 (x264's own choice)"][0])
    body = f"""
Frames of `{CLIP}` ({len(images)}, scaled), converted to yuv420p before timing; x264 {PRESET} CRF
{CRF}, no B-frames, frame threads. Best of {repeats} runs each. The encoder settings this machine
gets: `{chosen}`.

{chr(10).join(rows)}

AVX2 takes {min(ratios):.2f}x-{max(ratios):.2f}x the time of AVX-512 here.
"""
    print(body)
    write_section("encoder", "Encoder: x264's AVX2 code vs its AVX-512 code", body,
                  "python -m benchmarks.encoder")


if __name__ == "__main__":
    main()
