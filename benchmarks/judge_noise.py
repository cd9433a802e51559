"""How far the judge's figures move when the mouth does not: its noise, to read the other tables by.

    .venv/bin/python -m benchmarks.judge_noise

The same frames encoded twice differ by a level or two a pixel (x264 spends its bits differently),
and the judge's landmarks follow those pixels; on a closed mouth, where the inner lip contour has
little edge to find, they can move by several percent of the eye distance between frames that
show the same lips. Each clip of the modes table with at least 20 silent frames (the jitter bar's
scope) is judged against its new speech as decoded, then re-encoded from those very frames at two
x264 CRFs. Nothing about its mouth changes, so whatever any figure does across the three is noise.
"""

from __future__ import annotations

from pathlib import Path

import av

from benchmarks.quality import PAIRS, judge
from benchmarks.report import OUT, media, write_section
from openlipsync.engine.options import RenderOptions
from openlipsync.engine.render import render
from openlipsync.media.encode import VideoWriter

CRFS = (18, 23)
FIGURES = ("mouth_jitter", "r_best", "silence_ratio")
MIN_SILENT = 20


def reencode(clip: Path, crf: int) -> Path:
    """``clip``'s frames as the judge decodes them (no rotation applied), re-encoded at ``crf``."""
    out = OUT / "judge_noise" / f"{clip.stem}_crf{crf}.mp4"
    out.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 25)
        with VideoWriter(out, stream.codec_context.width // 2 * 2, stream.codec_context.height // 2 * 2, fps,
                         crf=crf) as writer:
            for i, frame in enumerate(container.decode(stream)):
                image = frame.to_ndarray(format="rgb24")
                # The frame's own time: the judge aligns the speech to it, as it does on the clip.
                time = frame.time if frame.time is not None else i / fps
                writer.write(image[: image.shape[0] // 2 * 2, : image.shape[1] // 2 * 2], time)
    return out


def _row(name: str, what: str, speech_name: str, runs: list[dict]) -> str:
    jitters = [run["mouth_jitter"] for run in runs]
    cells = [", ".join(f"{run[f]:.2f}" for run in runs) for f in FIGURES]
    return (f"| {name} | {what} | {speech_name} | {runs[0]['silent_frames']} | " + " | ".join(cells)
            + f" | {max(jitters) - min(jitters):.2f} |")


def main() -> None:
    lines = ["| clip | video | speech | silent frames | "
             + " | ".join(f"{f}: as is, CRF {CRFS[0]}, CRF {CRFS[1]}" for f in FIGURES)
             + " | jitter spread |",
             "|---|---|---|---:|" + "---|" * len(FIGURES) + "---:|"]
    for clip_name, speech_name in PAIRS:
        clip, speech = media(clip_name), media(speech_name)
        runs = [judge(clip, audio=speech)]
        if runs[0]["silent_frames"] < MIN_SILENT:
            continue
        runs += [judge(reencode(clip, crf), audio=speech) for crf in CRFS]
        lines.append(_row(clip_name, "input", speech_name, runs))
        print(lines[-1], flush=True)
        rendered = OUT / "judge_noise" / f"{clip.stem}_standard.mp4"
        render(clip, speech, rendered, RenderOptions(mode="standard"))
        runs = [judge(rendered, audio=speech)]
        runs += [judge(reencode(rendered, crf), audio=speech) for crf in CRFS]
        lines.append(_row(clip_name, "standard render", speech_name, runs))
        print(lines[-1], flush=True)
    body = ("Each clip of the modes table (its new speech) with at least 20 silent frames, and its "
            "standard render with that speech, judged by "
            "`../shared/tools/syncjudge/run VIDEO --audio SPEECH` as they are, then re-encoded from the "
            "same decoded frames with x264 at each CRF (the judge's "
            "view: no rotation applied). The mouth is the same in all three; a figure that moves between "
            "them moves by noise alone. `jitter spread`: the largest minus the smallest mouth_jitter of the "
            "three.\n\n" + "\n".join(lines))
    write_section("judge-noise", "The judge's noise: the same frames, encoded three ways", body,
                  "python -m benchmarks.judge_noise")


if __name__ == "__main__":
    main()
