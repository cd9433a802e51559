"""What re-drawing the mouth costs per frame, in CPU milliseconds, apart from decoding and encoding.

    .venv/bin/python -m benchmarks.mouth_cost [--engine DIR] [--label NAME] [--json OUT.json]
        [--before EARLIER.json] [--no-doc]

A render's wall time on this shared machine moves by 20-30% from one minute to the next (the
bare transcode of one clip took 1.68-1.99 s within an hour), which hides a change of that size in
one stage. This measures the stage alone: each clip is decoded and tracked once, then every frame's
mouth is rendered and pasted (``renderer.render`` and ``composite.paste``) in lite and in
standard, and the CPU time of that thread is divided by the frames; best of ``REPEATS``. Decoding,
tracking, the library's own decode and encoding are left out: they are measured by
``benchmarks.speed`` and ``benchmarks.modes speed``.

``--engine``, ``--before``: see ``report.comparison_args`` (the engine's renderers are built
the way its ``render()`` builds them).
"""

from __future__ import annotations

import json
import time

import numpy as np

from benchmarks.report import comparison_options, media, write_section

#: (clip, what it is): a large face, two mid-size ones, a small one that never opens its mouth.
CLIPS = (("man_selfie_portrait_silent.mp4", "720x1280, large face"),
         ("woman_flags.mp4", "590x590, mid-size face"),
         ("man_older_interview.mp4", "410x412, mid-size face"),
         ("woman_room_landscape.mp4", "1280x720, small face"))
SPEECH = "speech_en_20s.wav"
MODES = ("lite", "standard")
REPEATS = 3


def measure(name: str) -> dict[str, float]:
    """Milliseconds of mouth rendering per frame of ``name``, per mode."""
    from openlipsync.engine.closed_lips import ClosedLipsCollector
    from openlipsync.engine.composite import paste
    from openlipsync.engine.interior import InteriorCollector
    from openlipsync.engine.library import ClipPass
    from openlipsync.engine.lite import LiteRenderer
    from openlipsync.engine.people import track_people
    from openlipsync.engine.render import SPEECH_RATE, _OwnMouth
    from openlipsync.engine.speech import analyse_speech
    from openlipsync.engine.spill import Spill
    from openlipsync.engine.standard import exemplar_renderer
    from openlipsync.media.audio import iter_audio
    from openlipsync.media.probe import probe_video
    from openlipsync.media.video import read_frames

    clip = media(name)
    info = probe_video(clip)
    decoded = list(read_frames(clip))
    images, times = [f.image for f in decoded], np.array([f.time for f in decoded])
    del decoded
    spill = Spill()
    cast = track_people(iter(images), info.width, info.height, observer=lambda: _OwnMouth(spill))
    person = max(cast.people, key=lambda p: p.usable_frames())
    track = cast.track(person)
    own = cast.observers(person)
    interior = InteriorCollector.merged([o.interior for o in own]).result()
    closed = ClosedLipsCollector.merged([o.closed for o in own]).result()
    targets = analyse_speech(iter_audio(media(SPEECH), rate=SPEECH_RATE), SPEECH_RATE, times)
    source = np.arange(len(times))
    renderers = {
        "lite": LiteRenderer(track, targets, source, interior, closed, frame_rate=info.fps),
        "standard": exemplar_renderer("standard", ClipPass(clip, info, 0.0, info.duration, None, times),
                                      track, targets, source, interior, closed),
    }
    result = {}
    for mode in MODES:
        renderer, best = renderers[mode], np.inf
        for _ in range(REPEATS):
            frames = [image.copy() for image in images]
            began = time.thread_time()
            for k, image in enumerate(frames):
                if track.ok[k]:
                    drawn = renderer.render(image, track.points[k], k)
                    if drawn is not None:
                        paste(image, *drawn)
            best = min(best, time.thread_time() - began)
            del frames
        result[mode] = best / len(images) * 1000
    return result


def main(argv: list[str] | None = None) -> int:
    args = comparison_options(__doc__, argv)
    import openlipsync
    from benchmarks.reenact import engine_info

    print(f"engine: {openlipsync.__file__}", flush=True)
    figures = {}
    for name, _ in CLIPS:
        figures[name] = measure(name)
        print(name, {mode: round(ms, 2) for mode, ms in figures[name].items()}, flush=True)
    result = {"label": args.label, "commit": engine_info()["commit"] or "unknown", "figures": figures}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.no_doc:
        return 0
    before = json.loads(args.before.read_text()) if args.before else None
    rows = []
    for name, what in CLIPS:
        cells = []
        for mode in MODES:
            now = figures[name][mode]
            if before:
                then = before["figures"][name][mode]
                cells.append(f"{then:.2f} -> {now:.2f} ({now / then:.2f}x)")
            else:
                cells.append(f"{now:.2f}")
        rows.append(f"| {name} | {what} | " + " | ".join(cells) + " |")
    compared = (f"Before -> after: `{before['label']}` at {before['commit']} -> `{args.label}` at "
                f"{result['commit']}, run one after the other.\n\n" if before else "")
    body = (f"CPU milliseconds a frame of the thread that renders and pastes the mouth, in lite and in "
            f"standard, each clip decoded and tracked beforehand, speech `{SPEECH}`; best of "
            f"{REPEATS}. Decoding, tracking and encoding are not in these figures.\n\n{compared}"
            "| clip | input | lite ms/frame | standard ms/frame |\n|---|---|---:|---:|\n" + "\n".join(rows))
    write_section("mouth-cost", "Mouth rendering: CPU per frame, lite and standard", body,
                  "python -m benchmarks.mouth_cost")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
