"""How bright the inside of the mouth is at each opening: the person's own mouth against lite's.

    .venv/bin/python -m benchmarks.mouth_light [--engine DIR] [--label NAME] [--json OUT.json]
        [--before EARLIER.json] [--no-doc]

Little light reaches the teeth behind barely parted lips, so a real mouth is darker inside the
less it is open. Lite shows the clip's own widest open mouth between the target's lips, and how it
lights that mouth decides whether a narrow opening shows grey teeth in shadow, as the person's do,
or a white band. Each clip of ``quality.PAIRS`` is rendered in lite with a speech track not its
own; the input and the render are tracked (the engine's tracker), and on every frontal frame whose
inner lips are at least 3% of the eye distance apart, the mean brightness between the inner lips
(BT.601 luma) is taken over the cheeks' (5x5 pixels at two cheek landmarks). The table gives the
median of that ratio per band of inner-lip gap (eye distances), input against render, and the mean
distance of the render's from the input's over the bands where both have at least
``MIN_FRAMES`` frames. The measurement is this benchmark's own, not the engine's
(``interior.Shading``), so that the yardstick does not share the code it measures.

``--engine``, ``--before``: see ``report.comparison_args``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from benchmarks.report import OUT, comparison_options, described_engine, kept_run, media, write_section

BANDS = ((0.03, 0.07), (0.07, 0.12), (0.12, 0.2), (0.2, 0.5))
MIN_FRAMES = 5
CHEEKS = (205, 425)
MAX_TURN = 0.25  # |nose tip x| in eye distances: more is a face turned too far to see into its mouth


def opening_light(path: Path) -> list[tuple[float, float]]:
    """(inner-lip gap, brightness between the inner lips over the cheeks') of every frontal frame
    of ``path`` whose lips are parted."""
    from openlipsync.engine import mouth_shape as ms
    from openlipsync.engine.face_track import track_faces
    from openlipsync.media.probe import probe_video
    from openlipsync.media.video import read_frames

    info = probe_video(path)
    track = track_faces((frame.image for frame in read_frames(path)), info.width, info.height)
    found = []
    # Decoded a second time rather than kept: a 20 s 1080x1920 clip is 3 GB of frames.
    for frame, points, ok in zip(read_frames(path), track.points, track.ok, strict=True):
        if not ok:
            continue
        image = frame.image
        points, frame, canon = ms.in_head_frame(points)
        gap = ms.inner_gap(points, frame)
        if gap < BANDS[0][0] or abs(canon[1, 0]) > MAX_TURN:
            continue
        contour = ms.inner_contour(points)
        mask = np.zeros(image.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(contour).astype(np.int32)], 1)
        luma = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        cheeks = []
        for i in CHEEKS:
            x, y = np.round(points[i]).astype(int)
            cheeks.append(luma[max(y - 2, 0): y + 3, max(x - 2, 0): x + 3].mean())
        if mask.sum() >= 4:
            found.append((gap, float(luma[mask > 0].mean()) / max(float(np.mean(cheeks)), 1.0)))
    return found


def by_band(found: list[tuple[float, float]]) -> list[float | None]:
    """The median brightness of each of ``BANDS``, None with fewer than ``MIN_FRAMES`` frames."""
    values = np.array(found).reshape(-1, 2)
    medians = []
    for lo, hi in BANDS:
        inside = values[(values[:, 0] >= lo) & (values[:, 0] < hi), 1]
        medians.append(float(np.median(inside)) if len(inside) >= MIN_FRAMES else None)
    return medians


def distance(render: list[float | None], own: list[float | None]) -> float | None:
    """Mean |render - own| over the bands both have."""
    pairs = [abs(r - o) for r, o in zip(render, own, strict=True) if r is not None and o is not None]
    return float(np.mean(pairs)) if pairs else None


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    args = comparison_options(__doc__, argv)
    import openlipsync
    from benchmarks.quality import PAIRS
    from benchmarks.reenact import engine_info
    from openlipsync.engine.options import RenderOptions
    from openlipsync.engine.render import render

    print(f"engine: {Path(openlipsync.__file__).parent}", flush=True)
    out_dir = OUT / "mouth_light" / args.label
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = {}
    for clip_name, speech_name in PAIRS:
        clip = media(clip_name)
        out = out_dir / f"{clip.stem}.mp4"
        render(clip, media(speech_name), out, RenderOptions(mode="lite"))
        own, rendered = by_band(opening_light(clip)), by_band(opening_light(out))
        figures[clip_name] = {"speech": speech_name, "input": own, "lite": rendered,
                              "distance": distance(rendered, own)}
        print(clip_name, figures[clip_name], flush=True)
    run, before = kept_run(args, engine_info(), figures)
    if args.no_doc:
        return 0
    old = before["figures"] if before else {}
    bands = " | ".join(f"{lo:.2f}-{hi:.2f}" for lo, hi in BANDS)
    rows = [f"| clip | speech | {bands} | distance |", "|---|---|" + "---:|" * (len(BANDS) + 1)]
    for clip_name, now in figures.items():
        then = old.get(clip_name)
        cells = []
        for k, own in enumerate(now["input"]):
            lite = _cell(now["lite"][k])
            if then is not None:
                lite = f"{_cell(then['lite'][k])} -> {lite}"
            cells.append(f"{_cell(own)} / {lite}")
        far = _cell(now["distance"])
        if then is not None:
            far = f"{_cell(then['distance'])} -> {far}"
        rows.append(f"| {clip_name} | {now['speech']} | {' | '.join(cells)} | {far} |")
    compared = f" Before -> after: {described_engine(before)} -> {described_engine(run)}." if before else \
        f" Engine {described_engine(run)}."
    body = (f"Each cell: the input's own median brightness between the inner lips, over the cheeks', for "
            f"inner-lip gaps in that band (eye distances) / lite's, rendered with the speech named "
            f"(`-`: under {MIN_FRAMES} frames). `distance`: the mean gap between the two over the bands "
            f"both show.{compared}\n\n" + "\n".join(rows))
    print(body)
    write_section("mouth-light", "Inside of the mouth: how bright at each opening, the person vs lite", body,
                  " ".join(["python -m benchmarks.mouth_light", *(sys.argv[1:] if argv is None else argv)]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
