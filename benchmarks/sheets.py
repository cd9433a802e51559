"""Contact sheets: the same frames of three clips as input, lite, standard and pro, to look at.

    .venv/bin/python -m benchmarks.sheets --label NAME [--engine DIR]

Numbers say how far a mouth is from the real one; only pictures say whether a viewer would believe
it. Each clip is rendered in every mode with a speech track that is not its own (its first
``SECONDS`` s), and ``docs/sheets/<label>_<clip>.png`` shows a strip of 10 consecutive output
frames per row (input, lite, standard, pro), then three of those frames per row as mouth crops at
4x their pixels (nearest neighbour: what is there, not a smoothed guess).

The frames are chosen from the speech alone (the loudest stretch of its plain RMS, not the
engine's analysis), so sheets of different engines show the same frames. ``--engine DIR`` renders
with the ``openlipsync`` package found in DIR (e.g. a ``git worktree`` of an earlier commit):
before and after sheets of one change.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import av
import cv2
import numpy as np

from benchmarks.report import OUT, ROOT, media

#: (clip, speech not its own): lipstick and teeth, a small face in a talk show, an older man.
CLIPS = (("woman_flags.mp4", "speech_de.wav"), ("man_talkshow_224.mp4", "speech_en_b.wav"),
         ("man_older_interview.mp4", "speech_en_a.wav"))
MODES = ("lite", "standard", "pro")
SECONDS = 4.0
STRIP, TILE = 10, 112
ZOOM_AT, ZOOM = (1, 4, 7), 4  # frames of the strip shown large, and how large
LABEL_W = 80


def decode_frames(path: Path, start: int, count: int) -> list[np.ndarray]:
    """Frames ``start`` .. ``start + count - 1`` of ``path`` as RGB."""
    with av.open(str(path)) as container:
        frames = itertools.islice(container.decode(video=0), start, start + count)
        return [f.to_ndarray(format="rgb24") for f in frames]


def loudest_stretch(speech: Path, fps: float, frames: int) -> int:
    """First frame of the STRIP output frames over which the speech's RMS is highest."""
    with av.open(str(speech)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
        samples = np.concatenate([f.to_ndarray().ravel() for frame in container.decode(audio=0)
                                  for f in resampler.resample(frame)])
    hop = 16000 / fps
    energy = np.array([np.mean(samples[int(i * hop): int((i + 1) * hop)] ** 2) if int(i * hop) < len(samples)
                       else 0.0 for i in range(frames)])
    if frames <= STRIP:
        return 0
    return int(np.argmax(np.convolve(energy, np.ones(STRIP), mode="valid")))


def _label(text: str, height: int) -> np.ndarray:
    tile = np.zeros((height, LABEL_W, 3), np.uint8)
    cv2.putText(tile, text, (4, height // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def sheet(rows: dict[str, list[np.ndarray]], points: np.ndarray, ok: np.ndarray, scale: float) -> np.ndarray:
    """The strips of every row, then the 4x crops of every row, around each frame's mouth
    (``points``: its centre in each input frame)."""
    half = max(int(round(scale * 0.7)), 8)  # strip tiles: the lower face
    zoom_half = max(int(round(scale * 0.4)), 6)  # 4x crops: the lips and what is between them
    strips, zooms = [], []
    for name, images in rows.items():
        tiles, large = [], []
        for k, image in enumerate(images):
            cx, cy = np.round(points[k]).astype(int) if ok[k] else (image.shape[1] // 2, image.shape[0] // 2)
            pad = np.pad(image, ((half, half), (half, half), (0, 0)), mode="edge")
            tiles.append(cv2.resize(pad[cy: cy + 2 * half, cx: cx + 2 * half], (TILE, TILE),
                                    interpolation=cv2.INTER_AREA))
            if k in ZOOM_AT:
                y, x = cy + half - zoom_half, cx + half - zoom_half
                lips = pad[y: y + 2 * zoom_half, x: x + 2 * zoom_half]
                large.append(cv2.resize(lips, None, fx=ZOOM, fy=ZOOM, interpolation=cv2.INTER_NEAREST))
        strips.append(np.hstack([_label(name, TILE), *tiles]))
        gap = np.zeros((large[0].shape[0], 6, 3), np.uint8)
        spaced = [np.hstack([z, gap]) for z in large]
        zooms.append(np.hstack([_label(f"{name} 4x", large[0].shape[0]), *spaced]))
    width = max(strips[0].shape[1], zooms[0].shape[1])

    def padded(line: np.ndarray) -> np.ndarray:
        return np.pad(line, ((0, 4), (0, width - line.shape[1]), (0, 0)))

    return np.vstack([padded(line) for line in strips + zooms])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--label", required=True, help="name of this engine's sheets (before, after, ...)")
    parser.add_argument("--engine", type=Path, help="render with the openlipsync package in this directory")
    args = parser.parse_args(argv)
    if args.engine:
        sys.path.insert(0, str(args.engine.resolve()))
    import openlipsync
    from openlipsync.engine import mouth_shape as ms
    from openlipsync.engine.face_track import track_faces
    from openlipsync.engine.options import RenderOptions
    from openlipsync.engine.render import render

    print(f"engine: {Path(openlipsync.__file__).parent}", flush=True)
    out_dir, sheets = OUT / "sheets" / args.label, ROOT / "docs" / "sheets"
    out_dir.mkdir(parents=True, exist_ok=True)
    sheets.mkdir(parents=True, exist_ok=True)
    for clip_name, speech_name in CLIPS:
        clip, speech = media(clip_name), media(speech_name)
        outputs = {}
        for mode in MODES:
            outputs[mode] = out_dir / f"{clip.stem}_{mode}.mp4"
            render(clip, speech, outputs[mode], RenderOptions(mode=mode, end=SECONDS))
        with av.open(str(outputs["lite"])) as container:
            fps = float(container.streams.video[0].average_rate)
        start = loudest_stretch(speech, fps, int(SECONDS * fps))
        rows = {"input": decode_frames(clip, start, STRIP)}
        rows.update({mode: decode_frames(path, start, STRIP) for mode, path in outputs.items()})
        track = track_faces(iter(rows["input"]), rows["input"][0].shape[1], rows["input"][0].shape[0])
        centres = track.points[:, list(ms.OUTER)].mean(axis=1)
        scale = float(np.nanmedian(ms.HeadFrame.from_points(track.points[int(np.argmax(track.ok))]).scale))
        path = sheets / f"{args.label}_{clip.stem}.png"
        cv2.imwrite(str(path), cv2.cvtColor(sheet(rows, centres, track.ok, scale), cv2.COLOR_RGB2BGR))
        print(f"{path.relative_to(ROOT)}: output frames {start}-{start + STRIP - 1} of {clip_name} with "
              f"{speech_name}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
