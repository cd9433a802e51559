"""Lip-sync quality on every talking clip in ../shared/media, judged by an independent model.

Each clip is rendered with a speech track that is not its own, then the judge
(../shared/tools/syncjudge, dlib's 68-point landmarks, not our mesh) measures whether the mouth
follows the new speech (r_best, best_lag), no longer follows the clip's own speech, rests in
silence (silence_ratio), does not quiver (mouth_jitter, against the input's own), and whether
everything outside the lower face was kept (psnr_outside against the input). A contact sheet of
mouth crops (input above, output below) goes to docs/ for looking, since the judge is a proxy.

    .venv/bin/python -m benchmarks.quality [--modes lite standard pro]
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import av
import cv2
import numpy as np

from benchmarks.report import OUT, ROOT, media, write_section
from openlipsync.engine import mouth_shape as ms
from openlipsync.engine.face_track import track_faces
from openlipsync.engine.options import RenderOptions
from openlipsync.engine.render import render

JUDGE = ROOT.parent / "shared" / "tools" / "syncjudge" / "run"

#: (clip, a speech track that is not its own)
PAIRS = [
    ("man_office_vfr.mp4", "speech_en_a.wav"),
    ("man_map.mp4", "speech_en_b.wav"),
    ("woman_flags.mp4", "speech_de.wav"),
    ("woman_indoor.mp4", "speech_ja.wav"),
    ("man_selfie_portrait_silent.mp4", "speech_en_33s.mp3"),
    ("woman_room_landscape.mp4", "speech_en_a.wav"),
    ("man_kitchen_portrait_hevc.mp4", "speech_en_20s.wav"),
]


def judge(video: Path, audio: Path | None = None, reference: Path | None = None) -> dict:
    cmd = [str(JUDGE), str(video)]
    if audio is not None:
        cmd += ["--audio", str(audio)]
    if reference is not None:
        cmd += ["--reference", str(reference)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def has_audio(path: Path) -> bool:
    with av.open(str(path)) as container:
        return bool(container.streams.audio)


def _frames(path: Path, picks: set[int]) -> dict[int, np.ndarray]:
    found = {}
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in picks:
                found[i] = frame.to_ndarray(format="rgb24")
            if len(found) == len(picks):
                break
    return found


def mouth_strip(source: Path, output: Path, columns: int = 10, size: int = 120) -> np.ndarray:
    """Two rows of mouth crops at evenly spaced output frames: input above, output below."""
    with av.open(str(output)) as container:
        count = container.streams.video[0].frames or 1
    picks = sorted({int(i) for i in np.linspace(0, max(count - 1, 0), columns)})
    outs = _frames(output, set(picks))
    ins = _frames(source, set(picks))
    rows: list[list[np.ndarray]] = [[], []]
    track = track_faces([outs[i] for i in picks if i in outs], *next(iter(outs.values())).shape[1::-1])
    for j, i in enumerate(p for p in picks if p in outs):
        for row, image in ((0, ins.get(i)), (1, outs[i])):
            tile = np.zeros((size, size, 3), np.uint8)
            if image is not None and track.ok[j]:
                pts = track.points[j]
                frame = ms.HeadFrame.from_points(pts)
                cx, cy = pts[list(ms.OUTER)].mean(0)
                half = int(frame.scale * 0.75)
                y0, x0 = max(int(cy) - half, 0), max(int(cx) - half, 0)
                crop = image[y0 : int(cy) + half, x0 : int(cx) + half]
                if crop.size:
                    tile = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
            rows[row].append(tile)
    return np.vstack([np.hstack(r) for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--modes", nargs="+", default=["lite"])
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    lines = ["| clip | speech | mode | r_best | best_lag | r_best vs own audio | silence_ratio | "
             "mouth_jitter (input) | psnr_outside dB | render s |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    sheets = {mode: [] for mode in args.modes}
    for clip_name, speech_name in PAIRS:
        clip, speech = media(clip_name), media(speech_name)
        clip_speaks = has_audio(clip)
        input_jitter = judge(clip, audio=speech)["mouth_jitter"]
        for mode in args.modes:
            out = OUT / f"quality_{mode}_{clip.stem}.mp4"
            summary = render(clip, speech, out, RenderOptions(mode=mode))
            new = judge(out, reference=clip)
            own = judge(out, audio=clip)["r_best"] if clip_speaks else None
            psnr = new.get("psnr_outside", float("nan"))
            lines.append(
                f"| {clip_name} | {speech_name} | {mode} | {new['r_best']:.2f} | {new['best_lag']} | "
                f"{'n/a (no audio)' if own is None else f'{own:.2f}'} | {new['silence_ratio']:.2f} | "
                f"{new['mouth_jitter']:.2f} ({input_jitter:.2f}) | {psnr:.1f} | "
                f"{summary.elapsed_s:.1f} |"
            )
            print(lines[-1], flush=True)
            sheets[mode].append(mouth_strip(clip, out))
    for mode, strips in sheets.items():
        width = max(s.shape[1] for s in strips)
        padded = [np.pad(s, ((0, 8), (0, width - s.shape[1]), (0, 0))) for s in strips]
        cv2.imwrite(str(ROOT / "docs" / f"contact_sheet_{mode}.png"), cv2.cvtColor(np.vstack(padded),
                                                                                  cv2.COLOR_RGB2BGR))
    body = ("Each clip rendered with a speech track that is not its own; judged by "
            "`../shared/tools/syncjudge/run OUT --reference IN` (the new audio is OUT's track) and, for "
            "'vs own audio', `--audio IN` (the clip's original speech).\n\n" + "\n".join(lines) +
            "\n\nContact sheets (input above, output below, per clip): " +
            ", ".join(f"[{m}](contact_sheet_{m}.png)" for m in args.modes) + ".")
    write_section("quality", "Quality: independent judge on every talking clip", body,
                  "python -m benchmarks.quality --modes " + " ".join(args.modes))


if __name__ == "__main__":
    main()
