"""lite, standard and pro side by side: speed, peak memory, the judge's table and mouth contact sheets.

    .venv/bin/python -m benchmarks.modes [speed] [memory] [quality]   (no argument: all three)

speed    the 10 s 1280x720 30 fps clip (whose mouth barely moves: standard and pro fall back to
         lite there and say so) and a talking 720x1280 30 fps clip (the library is used), every
         mode in the same process, against a bare decode + encode of the first clip.
memory   peak RSS of standard and pro renders of a talking clip repeated to 10 s and to 60 s,
         each in a fresh process.
quality  every talking clip in ../shared/media with a speech track not its own, judged by
         ../shared/tools/syncjudge, and its lips' colour checked against the input's by
         ../shared/tools/syncjudge/selfcheck; one contact sheet per clip of mouth crops over the
         same stretch of speech: input, lite, standard, pro (docs/modes_<clip>.png).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.quality import PAIRS, has_audio, judge
from benchmarks.reenact import selfcheck
from benchmarks.report import OUT, ROOT, media, repeated_clip, write_section
from benchmarks.sheets import decode_frames
from benchmarks.speed import transcode
from openlipsync.engine import mouth_shape as ms
from openlipsync.engine.exemplars import crop_size
from openlipsync.engine.face_track import track_faces
from openlipsync.engine.options import RenderOptions
from openlipsync.engine.render import SPEECH_RATE, render
from openlipsync.engine.speech import analyse_speech
from openlipsync.engine.standard import MODES as EXEMPLAR_MODES
from openlipsync.media.audio import iter_audio
from openlipsync.media.probe import probe_video

MODES = ("lite", "standard", "pro")
SPEED_CLIPS = (("woman_room_landscape.mp4", "speech_en_20s.wav"),
               ("man_selfie_portrait_silent.mp4", "speech_en_20s.wav"))
MEMORY_CLIP, MEMORY_SPEECH = "man_selfie_portrait_silent.mp4", "speech_en_33s.mp3"
SHEET_FRAMES, TILE = 12, 112

# The peak is read from VmHWM, which belongs to the child's own address space: getrusage's
# ru_maxrss survives fork and exec, so it would report this (large) benchmark process instead.
_CHILD = """
import json, sys
from openlipsync.engine.options import RenderOptions
from openlipsync.engine.render import render
summary = render(sys.argv[1], sys.argv[2], sys.argv[3], RenderOptions(mode=sys.argv[4]))
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"frames": summary.frames, "notes": summary.notes, "peak_mb": peak / 1024}))
"""


def _load() -> str:
    return " / ".join(f"{v:.1f}" for v in os.getloadavg())


def speed(repeats: int = 2) -> None:
    rows = ["| clip | run | seconds | frames/s | x real time | stages (s) |", "|---|---|---:|---:|---:|---|"]
    notes, crf = [], None
    for clip_name, speech_name in SPEED_CLIPS:
        clip, speech = media(clip_name), media(speech_name)
        info = probe_video(clip)
        for mode in MODES:
            runs = [render(clip, speech, OUT / f"modes_speed_{mode}.mp4", RenderOptions(mode=mode))
                    for _ in range(repeats)]
            best = min(runs, key=lambda s: s.elapsed_s)
            crf = best.crf if crf is None else crf
            fps = best.frames / best.elapsed_s
            stages = ", ".join(f"{k} {v:.2f}" for k, v in best.stage_seconds.items())
            rows.append(f"| {clip_name} | {mode} | {best.elapsed_s:.2f} | {fps:.1f} | {fps / info.fps:.2f} | "
                        f"{stages} |")
            print(rows[-1], flush=True)
            notes += [f"{clip_name}, {mode}: {n}" for n in best.notes]
    clip, speech = media(SPEED_CLIPS[0][0]), media(SPEED_CLIPS[0][1])
    info = probe_video(clip)
    frames, seconds = min((transcode(clip, speech, OUT / "modes_transcode.mp4", crf) for _ in range(repeats)),
                          key=lambda r: r[1])
    rows.insert(2, f"| {clip.name} | bare decode + encode (CRF {crf}) | {seconds:.2f} | "
                   f"{frames / seconds:.1f} | {frames / seconds / info.fps:.2f} | |")
    body = (f"Best of {repeats} runs each, whole clips, default options (x264 veryfast). Load average "
            f"(1/5/15 min) at the end: {_load()}; the machine is shared, so these are floors.\n\n"
            + "\n".join(rows) + "\n\n" + "\n".join(f"- {n}" for n in notes))
    print(body)
    write_section("modes-speed", "Speed: lite, standard and pro", body, "python -m benchmarks.modes speed")


def _peak(clip: Path, mode: str) -> dict:
    out = OUT / "modes_memory_out.mp4"
    command = [sys.executable, "-c", _CHILD, str(clip), str(media(MEMORY_SPEECH)), str(out), mode]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory() -> None:
    short, long = repeated_clip(MEMORY_CLIP, 10), repeated_clip(MEMORY_CLIP, 60)
    info = probe_video(short)
    rows = ["| mode | 10 s: frames | 10 s: peak RSS (MiB) | 60 s: frames | 60 s: peak RSS (MiB) | growth |",
            "|---|---:|---:|---:|---:|---:|"]
    for mode in MODES:
        a, b = _peak(short, mode), _peak(long, mode)
        rows.append(f"| {mode} | {a['frames']} | {a['peak_mb']:.0f} | {b['frames']} | {b['peak_mb']:.0f} | "
                    f"{b['peak_mb'] / a['peak_mb'] - 1:+.1%} |")
        print(rows[-1], flush=True)
    bounds = []
    for mode in ("standard", "pro"):
        spec = EXEMPLAR_MODES[mode].library
        h, w = crop_size(spec.max_ppu)
        mib = spec.capacity * h * w * 3 / 2**20
        bounds.append(f"{mode} at most {spec.capacity} crops of at most {w}x{h} px ({mib:.0f} MiB)")
    body = (f"`{MEMORY_CLIP}` (a talking face, {info.width}x{info.height}, {info.fps:g} fps) repeated to "
            f"10 s and 60 s, speech `{MEMORY_SPEECH}` (cut to the clip); each render in a fresh process. The "
            f"exemplar library holds {'; '.join(bounds)}, in blocks of consecutive frames spread over the "
            "clip, so past that a longer clip costs no more memory.\n\n" + "\n".join(rows))
    print(body)
    write_section("modes-memory", "Memory: standard and pro, 10 s vs 60 s", body,
                  "python -m benchmarks.modes memory")


def _loudest_stretch(speech: Path, fps: float, frames: int) -> int:
    """First frame of the ``SHEET_FRAMES`` output frames where the new speech opens the mouth most."""
    targets = analyse_speech(iter_audio(speech, rate=SPEECH_RATE), SPEECH_RATE, np.arange(frames) / fps)
    if frames <= SHEET_FRAMES:
        return 0
    window = np.convolve(targets.open, np.ones(SHEET_FRAMES), mode="valid")
    return int(np.argmax(window))


def contact_sheet(clip: Path, outputs: dict[str, Path], speech: Path, path: Path) -> None:
    """Rows of mouth crops (input, then each mode) over the same stretch of output frames."""
    info = probe_video(outputs["lite"])
    start = _loudest_stretch(speech, info.fps, info.frame_count)
    rows = {"input": decode_frames(clip, start, SHEET_FRAMES)}
    rows.update({mode: decode_frames(out, start, SHEET_FRAMES) for mode, out in outputs.items()})
    track = track_faces(rows["input"], *rows["input"][0].shape[1::-1])
    lines = []
    for name, images in rows.items():
        tiles = []
        for image, points, ok in zip(images, track.points, track.ok, strict=False):
            tile = np.zeros((TILE, TILE, 3), np.uint8)
            if ok:
                cx, cy = points[list(ms.OUTER)].mean(0)
                half = int(ms.HeadFrame.from_points(points).scale * 0.7)
                crop = image[max(int(cy) - half, 0): int(cy) + half, max(int(cx) - half, 0): int(cx) + half]
                tile = cv2.resize(crop, (TILE, TILE), interpolation=cv2.INTER_AREA)
            tiles.append(tile)
        label = np.zeros((TILE, 80, 3), np.uint8)
        cv2.putText(label, name, (4, TILE // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                    cv2.LINE_AA)
        lines.append(np.hstack([label, *tiles]))
    cv2.imwrite(str(path), cv2.cvtColor(np.vstack(lines), cv2.COLOR_RGB2BGR))


def quality() -> None:
    lines = ["| clip | speech | mode | r_best | best_lag | r_best vs own audio | silence_ratio | "
             "silent frames | mouth_jitter (input) | lip_colour_off (input) | psnr_outside dB | render s | "
             "notes |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    sheets = []
    began = time.perf_counter()
    for clip_name, speech_name in PAIRS:
        clip, speech = media(clip_name), media(speech_name)
        clip_speaks = has_audio(clip)
        input_jitter = judge(clip, audio=speech)["mouth_jitter"]
        input_colour = selfcheck(clip, clip)["lip_colour_off"]
        outputs = {}
        for mode in MODES:
            out = outputs[mode] = OUT / f"modes_{mode}_{clip.stem}.mp4"
            summary = render(clip, speech, out, RenderOptions(mode=mode))
            new = judge(out, reference=clip)
            own = judge(out, audio=clip)["r_best"] if clip_speaks else None
            colour = selfcheck(clip, out)["lip_colour_off"]
            lines.append(
                f"| {clip_name} | {speech_name} | {mode} | {new['r_best']:.2f} | {new['best_lag']} | "
                f"{'n/a (no audio)' if own is None else f'{own:.2f}'} | {new['silence_ratio']:.2f} | "
                f"{new['silent_frames']} | {new['mouth_jitter']:.2f} ({input_jitter:.2f}) | "
                f"{colour:.3f} ({input_colour:.3f}) | {new.get('psnr_outside', float('nan')):.1f} | "
                f"{summary.elapsed_s:.1f} | {'; '.join(summary.notes)} |")
            print(lines[-1], flush=True)
        sheet = ROOT / "docs" / f"modes_{clip.stem}.png"
        contact_sheet(clip, outputs, speech, sheet)
        sheets.append(f"[{clip.stem}]({sheet.name})")
    body = ("Each clip rendered in every mode with a speech track that is not its own; judged by "
            "`../shared/tools/syncjudge/run OUT --reference IN` (the new audio is OUT's track) and, for "
            "'vs own audio', `--audio IN` (the clip's original speech: low is good, the old speech is gone). "
            "`silent frames`: the judge's count of frames where the new speech is silent, over whose "
            "pairs it takes mouth_jitter. `lip_colour_off`: `../shared/tools/syncjudge/selfcheck IN OUT`'s "
            "share of output frames whose lips stray from the input's usual lip colour (the input against "
            "itself in brackets: light and motion in the real clip). "
            f"Load average at the end: {_load()}; {time.perf_counter() - began:.0f} s in all.\n\n"
            + "\n".join(lines)
            + "\n\nContact sheets, mouth crops over the 12 output frames where the new speech opens the "
            "mouth most (rows: input, lite, standard, pro): " + ", ".join(sheets) + ".")
    write_section("modes-quality", "Quality: lite, standard and pro on every talking clip", body,
                  "python -m benchmarks.modes quality")


def main(argv: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    steps = {"speed": speed, "memory": memory, "quality": quality}
    for name in argv or list(steps):
        if name not in steps:
            raise SystemExit(f"unknown benchmark {name!r}; choose from {', '.join(steps)}")
        steps[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
