"""Re-enactment: every clip whose own audio is in sync, re-rendered from that audio and compared with itself.

    .venv/bin/python -m benchmarks.reenact [--modes lite,standard,pro] [--clips a.mp4,b.mp4]
        [--json OUT.json] [--before EARLIER.json] [--label NAME] [--no-doc]
        [--targets | --calibration | --control | --inputs] [--readout-dir training/data/readout]
        [--report]

What it measures, and why. The loudness judge (``../shared/tools/syncjudge/run``) asks whether a
rendered mouth opens when the speech is loud. A mouth that simply follows loudness passes it,
however wrong its shapes are. Re-enactment cannot be fooled that way: each clip of MEDIA.md's
"synchronous" table has its audio track removed, is rendered from that same audio, and the
rendered mouth is compared frame by frame with the real one that spoke it
(``../shared/tools/syncjudge/selfcheck``, dlib's 68 landmarks, independent of the engine's mesh):

  r_open, r_width   Pearson r of rendered vs real inner-lip opening / inner mouth width (1 = same motion)
  lmd               mean distance of the 20 mouth points, % of the inter-ocular distance (lower is better)
  ssim_mouth        SSIM of the mouth box, rendered vs real (higher is better)
  lip_colour_off    share of rendered frames whose lip colour strays from the real lips' (lower is better)

Inputs are derived in ``benchmarks/out/reenact/`` (git-ignored; the clips stay in ../shared/media):
``<clip>_silent.mp4`` is the clip's video packets remuxed without the audio track (no re-encode,
timestamps kept: one clip has a variable frame rate, one an edit list), and ``<clip>_own.wav`` its
own audio, 16 kHz mono, shifted so that sample 0 plays with the first video frame (as in the
original container: two clips start their video 33 and 80 ms after their audio).

``--targets`` renders nothing: it tracks the face on each original (the engine's own tracker) and
correlates the speech analysis of its own audio (``analyse_speech``) with the real mouth, at lags
of -3..+3 frames: ``open`` against the inner-lip gap, ``width`` against the corner distance, both
over the inter-ocular distance. A positive lag means the real mouth moves that many frames after
the target. This bounds what any renderer driven by those targets can reach, in about a minute.

``--calibration`` (for an engine whose ``RenderOptions`` has a ``calibration_video`` field; skipped
otherwise): the first half of each clip, with its audio, is the calibration input and the second
half is re-enacted, once without and once with the calibration clip, each compared with the
original's second half. The cut halves are re-encoded losslessly (x264 qp 0 from the decoded
frames, so the pixels are the original's): a remux can only cut at a keyframe.

``--control`` renders each clip from digital silence instead and checks it the same way: what
the figures score when the renderer has nothing to follow (the input's own mouth motion that shows
through), the floor to read the re-enactment figures against.

``--readout-dir`` renders each clip with ``DIR/<clip>.visemes.npz`` and ``DIR/<clip>.npz``, the
front end's network tuned and the real-mouth readout fitted without that clip (``python -m
training.readout.fit`` writes them): the shipped ones learned from these very clips, so figures
measured with them would flatter them.

``--json`` keeps the raw figures; an existing file keeps the parts this run did not measure, so a
render run and a ``--targets`` run can share one file. ``--before`` puts an earlier run's figures
beside this one's (``before -> after``). ``--report`` measures nothing: it writes the tables of the
run kept in ``--json``, so a before and an after run can go side by side with ``--no-doc`` and be
reported once both are done.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import subprocess
import sys
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np

import openlipsync
from benchmarks.report import OUT, ROOT, machine, media, write_section
from openlipsync.engine.face_track import MOUTH_CORNERS, eye_distance, mouth_opening, track_faces
from openlipsync.engine.options import RenderOptions
from openlipsync.engine.render import render
from openlipsync.engine.speech import analyse_speech
from openlipsync.media.audio import iter_audio
from openlipsync.media.probe import probe_video
from openlipsync.media.video import read_frames

#: MEDIA.md's "Clips whose own audio is synchronous with the mouth".
CLIPS = (
    "man_office_vfr.mp4",
    "woman_flags.mp4",
    "man_bedroom_selfie.mp4",
    "woman_hairbun_closeup.mp4",
    "man_talkshow_224.mp4",
    "man_older_interview.mp4",
    "man_address_fr.mp4",
    "woman_office_ko_720p.mp4",
)
MODES = ("lite", "standard", "pro")
SELFCHECK = ROOT.parent / "shared" / "tools" / "syncjudge" / "selfcheck"
#: (figure, True when higher is better)
FIGURES = (("r_open", True), ("r_width", True), ("lmd", False), ("ssim_mouth", True),
           ("lip_colour_off", False))
RATE = 16000
LAGS = range(-3, 4)

Json = dict[str, Any]
#: Called with a run's figures after each measurement (writes --json as the run goes).
Save = Callable[[Json], None]


# --- derived inputs -------------------------------------------------------------------------------


def strip_audio(src: Path, dst: Path) -> None:
    """``src``'s video packets remuxed into ``dst`` without any other track: same bits, same timestamps."""
    if dst.exists():
        return
    part = dst.with_name(dst.stem + ".part.mp4")
    with av.open(str(src)) as inp, av.open(str(part), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        for packet in inp.demux(vin):
            if packet.dts is None:  # the demuxer's flush packet
                continue
            packet.stream = vout
            out.mux(packet)
    part.rename(dst)


def video_start(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def audio_lead(path: Path) -> float:
    """Seconds by which ``path``'s first video frame follows its first audio sample (may be negative)."""
    with av.open(str(path)) as container:
        a = container.streams.audio[0]
        audio = float(a.start_time * a.time_base) if a.start_time is not None else 0.0
    return video_start(path) - audio


def write_wav(path: Path, samples: np.ndarray) -> None:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).round().astype("<i2")
    part = path.with_name(path.stem + ".part.wav")
    with wave.open(str(part), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    part.rename(path)


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32767


def own_audio(src: Path) -> np.ndarray:
    """``src``'s own audio, mono at ``RATE``, sample 0 at the first video frame."""
    samples = np.concatenate(list(iter_audio(src, rate=RATE)))
    shift = round(audio_lead(src) * RATE)
    if shift >= 0:
        return samples[shift:]
    return np.concatenate([np.zeros(-shift, np.float32), samples])


def cut_lossless(src: Path, dst: Path, start: float, end: float | None,
                 audio: np.ndarray | None = None) -> int:
    """Frames of ``src`` with ``start <= t < end`` (t from its first frame, as ``read_frames`` counts)
    into ``dst``: x264 qp 0 from the decoded frames (pixel-exact), timestamps kept but shifted so the
    first one is 0. ``audio`` (mono at ``RATE``, sample 0 at that first frame) is added as AAC.
    Returns the number of frames."""
    if dst.exists():
        return frame_count(dst)
    part = dst.with_name(dst.stem + ".part.mp4")
    frames = 0
    with av.open(str(src)) as inp, av.open(str(part), "w") as out:
        vin = inp.streams.video[0]
        origin = vin.start_time or 0
        vout = out.add_stream("libx264", options={"qp": "0", "preset": "ultrafast"})
        vout.width, vout.height = vin.codec_context.width, vin.codec_context.height
        vout.pix_fmt = vin.codec_context.pix_fmt or "yuv420p"
        vout.time_base = vin.time_base
        vout.codec_context.time_base = vin.time_base
        aout = None
        if audio is not None:
            aout = out.add_stream("aac", rate=RATE, layout="mono")
        first: int | None = None
        for frame in inp.decode(vin):
            t = float((frame.pts - origin) * vin.time_base)
            if t < start - 1e-6 or (end is not None and t >= end - 1e-6):
                continue
            first = frame.pts if first is None else first
            frame.pts -= first
            frame.time_base = vin.time_base
            frame.pict_type = av.video.frame.PictureType.NONE
            out.mux(vout.encode(frame))
            frames += 1
        out.mux(vout.encode(None))
        if aout is not None and audio is not None:
            size = 1024
            for i in range(0, len(audio), size):
                chunk = np.ascontiguousarray(audio[None, i : i + size], np.float32)
                aframe = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                aframe.rate, aframe.pts = RATE, i
                out.mux(aout.encode(aframe))
            out.mux(aout.encode(None))
    part.rename(dst)
    return frames


@dataclasses.dataclass
class Inputs:
    clip: Path
    silent: Path
    own_wav: Path
    frames: int
    audio_lead_s: float


def prepare(name: str, work: Path) -> Inputs:
    clip = media(name)
    stem = Path(name).stem
    silent, wav = work / f"{stem}_silent.mp4", work / f"{stem}_own.wav"
    strip_audio(clip, silent)
    if not wav.exists():
        write_wav(wav, own_audio(clip))
    times = [f.time for f in read_frames(clip)]
    if not np.allclose([f.time for f in read_frames(silent)], times, atol=1e-4):
        raise SystemExit(f"{silent.name}: the remux does not decode to the frames of {name} at their times")
    return Inputs(clip, silent, wav, len(times), round(audio_lead(clip), 4))


# --- measuring ---------------------------------------------------------------------------------------


def selfcheck(original: Path, rendered: Path) -> Json:
    done = subprocess.run([str(SELFCHECK), str(original), str(rendered)], check=True, capture_output=True,
                          text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def render_and_check(original: Path, silent: Path, wav: Path, out: Path, options: RenderOptions) -> Json:
    began = time.perf_counter()
    summary = render(silent, wav, out, options)
    rendered_s = time.perf_counter() - began
    began = time.perf_counter()
    figures = selfcheck(original, out)
    figures.update(render_s=round(rendered_s, 1), selfcheck_s=round(time.perf_counter() - began, 1),
                   render_frames=summary.frames, frames_with_face=summary.frames_with_face,
                   original_frames=frame_count(original), notes=summary.notes)
    return figures


def engine_info() -> Json:
    """Which engine was measured: its directory, git commit and whether its sources differ from it."""
    package = Path(openlipsync.__file__).resolve().parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(package), *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    return {"path": str(package), "commit": git("rev-parse", "--short", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--", "."))}


def stamp(label: str) -> Json:
    return {"label": label, "engine": engine_info(), "machine": machine(),
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 10 or a[ok].std() < 1e-9 or b[ok].std() < 1e-9:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def lagged(target: np.ndarray, real: np.ndarray) -> Json:
    """r of ``target[i]`` vs ``real[i + lag]`` for each lag; r at lag 0 and the best lag."""
    n = len(target)
    rs = {}
    for lag in LAGS:
        a = target[max(0, -lag): n - max(0, lag)]
        b = real[max(0, lag): n - max(0, -lag)]
        rs[lag] = pearson(a.astype(np.float64), b.astype(np.float64))
    finite = {k: v for k, v in rs.items() if math.isfinite(v)}
    best = max(finite, key=finite.get) if finite else 0
    return {"r0": round(rs[0], 3), "r_best": round(rs[best], 3), "best_lag": best,
            "by_lag": {str(k): round(v, 3) for k, v in rs.items()}}


def readout_option(readout_dir: Path | None, name: str) -> Json:
    """The RenderOptions / analyse_speech arguments that pick ``name``'s held-out network and
    readout, if asked."""
    if readout_dir is None:
        return {}
    stem = readout_dir / Path(name).stem
    paths = {"visemes": stem.with_suffix(".visemes.npz"), "readout": stem.with_suffix(".npz")}
    for path in paths.values():
        if not path.is_file():
            raise SystemExit(f"{path} is missing: python -m training.readout.fit --heldout-dir {readout_dir}")
    return {key: str(path) for key, path in paths.items()}


def targets_diagnostic(name: str, inputs: Inputs, readout_dir: Path | None = None) -> Json:
    began = time.perf_counter()
    info = probe_video(inputs.clip)
    times: list[float] = []

    def images() -> Iterator[np.ndarray]:
        for frame in read_frames(inputs.clip):
            times.append(frame.time)
            yield frame.image

    track = track_faces(images(), info.width, info.height, expected_frames=inputs.frames)
    targets = analyse_speech(iter_audio(inputs.own_wav, rate=RATE), RATE, np.array(times),
                             **readout_option(readout_dir, name))
    points = np.asarray(track.points, dtype=np.float64)
    iod = eye_distance(points)
    opening = mouth_opening(points)
    width = np.linalg.norm(points[:, MOUTH_CORNERS[0]] - points[:, MOUTH_CORNERS[1]], axis=1) / iod
    opening[~track.ok] = np.nan
    width[~track.ok] = np.nan
    return {"frames": len(times), "frames_ok": int(track.ok.sum()),
            "speech_share": round(float(targets.speech.mean()), 3),
            "open": lagged(targets.open, opening), "width": lagged(targets.width, width),
            "seconds": round(time.perf_counter() - began, 1)}


# --- tables -----------------------------------------------------------------------------------------------


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None: strict JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _num(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else float("nan")


def _cell(after: Any, before: Any = None, digits: int = 3) -> str:
    a = _num(after)
    text = "n/a" if math.isnan(a) else f"{a:.{digits}f}"
    if before is None:
        return text
    b = _num(before)
    return f"{'n/a' if math.isnan(b) else f'{b:.{digits}f}'} -> {text}"


def _mean(rows: list[Json], key: str) -> float:
    values = [_num(r.get(key)) for r in rows]
    values = [v for v in values if math.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def figures_table(results: dict[str, Json], before: dict[str, Json] | None) -> list[str]:
    """clip | figures... with a mean row; ``before`` (same clips) puts ``before -> after`` in each cell."""
    lines = ["| clip | " + " | ".join(f"{k} ({'higher' if up else 'lower'} is better)" for k, up in FIGURES)
             + " | frames |", "|---|" + "---:|" * (len(FIGURES) + 1)]
    for clip, row in results.items():
        old = (before or {}).get(clip)
        cells = [_cell(row.get(k), old.get(k) if old else None, 2 if k == "lmd" else 3) for k, _ in FIGURES]
        lines.append(f"| {clip} | " + " | ".join(cells) + f" | {row.get('frames')} |")
    olds = [before[c] for c in results if before and c in before]
    cells = [_cell(_mean(list(results.values()), k), _mean(olds, k) if olds else None, 2 if k == "lmd" else 3)
             for k, _ in FIGURES]
    lines.append("| **mean** | " + " | ".join(cells) + " | |")
    return lines


def targets_table(results: dict[str, Json], before: dict[str, Json] | None) -> list[str]:
    lines = ["| clip | frames (face ok) | speech share | open: r0 | open: r_best (lag) | width: r0 | "
             "width: r_best (lag) | s |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for clip, row in results.items():
        old = (before or {}).get(clip)
        cells = []
        for key in ("open", "width"):
            now, was = row[key], old[key] if old else None
            cells.append(_cell(now["r0"], was["r0"] if was else None, 2))
            lag = f"{was['best_lag']:+d} -> " if was else ""
            lag = f" ({lag}{now['best_lag']:+d})" if math.isfinite(_num(now["r_best"])) else ""
            cells.append(_cell(now["r_best"], was["r_best"] if was else None, 2) + lag)
        lines.append(f"| {clip} | {row['frames']} ({row['frames_ok']}) | {row['speech_share']:.2f} | "
                     + " | ".join(cells) + f" | {row['seconds']:.0f} |")
    means = []
    for key in ("open", "width"):
        for figure in ("r0", "r_best"):
            now = _mean([r[key] for r in results.values()], figure)
            olds = [before[c][key] for c in results if before and c in before]
            means.append(_cell(now, _mean(olds, figure) if olds else None, 2))
    lines.append("| **mean** | | | " + " | ".join(means) + " | |")
    return lines


def _describe(part: Json) -> str:
    engine = part["engine"]
    state = "with uncommitted changes" if engine["dirty"] else "clean"
    held_out = f" ({part['readout']})" if part.get("readout") else ""
    return f"engine `{engine['path']}` at {engine['commit']} ({state}), label `{part['label']}`{held_out}"


def _notes(results: dict[str, Json], mode: str) -> list[str]:
    notes = []
    for clip, row in results.items():
        if row.get("render_frames") != row.get("original_frames"):
            notes.append(f"{clip}, {mode}: {row.get('render_frames')} rendered frames for "
                         f"{row.get('original_frames')} original ones")
        notes += [f"{clip}, {mode}: {n}" for n in row.get("notes", [])]
    return notes


# --- runs ---------------------------------------------------------------------------------------------------


def silence_for(wav: Path) -> Path:
    """Digital silence as long as ``wav``, beside it."""
    path = wav.with_name(wav.stem.replace("_own", "") + "_silence.wav")
    if not path.exists():
        with wave.open(str(wav)) as w:
            write_wav(path, np.zeros(w.getnframes(), np.float32))
    return path


def run_renders(clips: list[str], modes: list[str], work: Path, save: Save, *, control: bool = False,
                readout_dir: Path | None = None) -> Json:
    """Each clip rendered from its own audio (``control``: from silence) and checked against itself."""
    part = stamp(work.name) | {"modes": {m: {} for m in modes}, "inputs": {}}
    for name in clips:
        inputs = prepare(name, work)
        part["inputs"][name] = {"frames": inputs.frames, "audio_lead_s": inputs.audio_lead_s}
        audio = silence_for(inputs.own_wav) if control else inputs.own_wav
        for mode in modes:
            out = work / f"{Path(name).stem}_{mode}{'_control' if control else ''}.mp4"
            options = RenderOptions(mode=mode, **readout_option(readout_dir, name))
            row = render_and_check(inputs.clip, inputs.silent, audio, out, options)
            part["modes"][mode][name] = row
            print(f"{name} {mode}: " + ", ".join(f"{k} {row.get(k)}" for k, _ in FIGURES)
                  + f" (render {row['render_s']} s, selfcheck {row['selfcheck_s']} s)", flush=True)
            save(part)
    return part


def run_inputs(clips: list[str], work: Path, save: Save) -> Json:
    """Each original against itself: the figures a render that changed nothing would get."""
    part = stamp(work.name) | {"clips": {}}
    for name in clips:
        inputs = prepare(name, work)
        part["clips"][name] = selfcheck(inputs.clip, inputs.clip)
        print(f"{name}: lip_colour_off {part['clips'][name].get('lip_colour_off')}", flush=True)
        save(part)
    return part


def run_targets(clips: list[str], work: Path, save: Save, readout_dir: Path | None = None) -> Json:
    part = stamp(work.name) | {"clips": {}}
    for name in clips:
        row = targets_diagnostic(name, prepare(name, work), readout_dir)
        part["clips"][name] = row
        said = [f"{k} r0 {row[k]['r0']} best {row[k]['r_best']} ({row[k]['best_lag']:+d})"
                for k in ("open", "width")]
        print(f"{name}: {', '.join(said)}, {row['seconds']} s", flush=True)
        save(part)
    return part


def calibration_available() -> bool:
    return "calibration_video" in {f.name for f in dataclasses.fields(RenderOptions)}


def run_calibration(clips: list[str], modes: list[str], work: Path, save: Save,
                    readout_dir: Path | None = None) -> Json | None:
    if not calibration_available():
        print("calibration is not available: RenderOptions has no calibration_video field; skipped",
              flush=True)
        return None
    part = stamp(work.name) | {"modes": {m: {"plain": {}, "calibrated": {}} for m in modes}, "split_s": {}}
    for name in clips:
        inputs = prepare(name, work)
        stem = Path(name).stem
        times = [f.time for f in read_frames(inputs.clip)]
        split = times[len(times) // 2]
        part["split_s"][name] = split
        calib = work / f"{stem}_calib_first_half.mp4"
        second = work / f"{stem}_second_half.mp4"
        own = read_wav(inputs.own_wav)
        cut = round(split * RATE)
        cut_lossless(inputs.clip, calib, 0.0, split, audio=own[:cut])
        cut_lossless(inputs.clip, second, split, None)
        wav = work / f"{stem}_own_second_half.wav"
        if not wav.exists():
            write_wav(wav, own[cut:])
        for mode in modes:
            calibrated = {"calibration_video": str(calib)}  # a field the engine may not have yet
            models = readout_option(readout_dir, name)
            variants = {"plain": RenderOptions(mode=mode, start=split, **models),
                        "calibrated": RenderOptions(mode=mode, start=split, **calibrated, **models)}
            for variant, options in variants.items():
                out = work / f"{stem}_{mode}_second_half_{variant}.mp4"
                row = render_and_check(second, inputs.silent, wav, out, options)
                part["modes"][mode][variant][name] = row
                said = ", ".join(f"{k} {row.get(k)}" for k, _ in FIGURES)
                print(f"{name} {mode} {variant}: {said}", flush=True)
                save(part)
    return part


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated (default: all three)")
    parser.add_argument("--clips", default=",".join(CLIPS), help="comma-separated names in ../shared/media")
    parser.add_argument("--json", type=Path, help="raw figures to this file (keeps the parts not measured)")
    parser.add_argument("--before", type=Path, help="an earlier run's --json: before -> after columns")
    parser.add_argument("--label", default="current", help="run name (and out/reenact/NAME)")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--section", help="write this section of docs/benchmarks.md instead of the run's "
                                          "usual one: a before/after of one change, beside the main tables")
    parser.add_argument("--report", action="store_true",
                        help="measure nothing: write the tables of the run kept in --json")
    parser.add_argument("--readout-dir", type=Path,
                        help="render each clip with DIR/<clip>.visemes.npz and DIR/<clip>.npz, its held-out "
                             "network and real-mouth readout")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--targets", action="store_true", help="speech targets vs the real mouth only")
    which.add_argument("--calibration", action="store_true", help="calibrate on one half, re-enact the other")
    which.add_argument("--control", action="store_true", help="render from silence: the floor")
    which.add_argument("--inputs", action="store_true",
                       help="each original against itself: what the real clip scores (no render)")
    args = parser.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    clips = [c for c in args.clips.split(",") if c]
    if unknown := set(modes) - set(MODES):
        parser.error(f"unknown modes {sorted(unknown)}")
    for name in clips:
        media(name)
    work = OUT / "reenact" / args.label
    work.mkdir(parents=True, exist_ok=True)
    before = json.loads(args.before.read_text()) if args.before else {}
    key = "targets" if args.targets else "calibration" if args.calibration else "control" if args.control \
        else "inputs" if args.inputs else "renders"
    command = "python -m benchmarks.reenact " + " ".join(argv if argv is not None else sys.argv[1:])

    def save(part: Json) -> None:
        if args.readout_dir:
            part["readout"] = "held out: each clip with the network tuned and the readout fitted without it"
        if args.json:
            data = json.loads(args.json.read_text()) if args.json.exists() else {}
            data[key] = part
            args.json.write_text(json.dumps(_finite(data), indent=1) + "\n")

    def measured(run: Callable[[], Json | None]) -> Json | None:
        """This run's figures: measured now, or with --report those kept in --json."""
        if not args.report:
            return run()
        kept = json.loads(args.json.read_text()) if args.json and args.json.exists() else {}
        if key not in kept:
            parser.error(f"--report needs --json holding a run's {key} figures")
        return kept[key]

    began = time.perf_counter()
    if args.targets:
        part = measured(lambda: run_targets(clips, work, save, args.readout_dir))
        old = before.get("targets", {}).get("clips") if before else None
        body = [f"{_describe(part)}. The speech analysis of each clip's own audio (`analyse_speech`) "
                "against the real mouth, tracked on the original by the engine's tracker: `open` vs the "
                "inner-lip gap, `width` vs the corner distance, both over the inter-ocular distance; Pearson "
                "r at lag 0 and the best of lags -3..+3 frames (positive: the real mouth moves after the "
                "target). Nothing is rendered: this bounds what a renderer driven by these targets can reach."
                + (f" Before: {_describe(before['targets'])}." if old else ""), "",
                *targets_table(part["clips"], old)]
        section, title = "reenact-targets", "Re-enactment: speech targets vs the real mouth, before rendering"
    elif args.calibration:
        part = measured(lambda: run_calibration(clips, modes, work, save, readout_dir=args.readout_dir))
        if part is None:
            return 0
        body = [f"{_describe(part)}. The first half of each clip (with its audio) is the calibration input; "
                "the second half is re-enacted from its own audio without (before) and with (after) "
                "calibration, each compared with the original's second half by `selfcheck`."]
        for mode in modes:
            plain, calibrated = part["modes"][mode]["plain"], part["modes"][mode]["calibrated"]
            body += ["", f"### {mode}", "", *figures_table(calibrated, plain)]
        section = "reenact-calibration"
        title = "Re-enactment with calibration: the first half calibrates, the second is re-enacted"
    elif args.inputs:
        part = measured(lambda: run_inputs(clips, work, save))
        body = [f"{_describe(part)}. Each original checked against itself by `selfcheck`: no render, so "
                "the motion and shape figures are perfect by construction, and `lip_colour_off` is the "
                "share of the real clip's own frames whose lips lie further from its median lip colour "
                "than the figure allows (light, pose and motion change during a shot). A render that kept "
                "the real lips exactly would score this, not 0: read each clip's lip colour figures above "
                "against it.", "", *figures_table(part["clips"], None)]
        section, title = "reenact-inputs", "Re-enactment floor: every synchronous clip against itself"
    elif args.control:
        part = measured(lambda: run_renders(clips, modes, work, save, control=True))
        old_part = before.get("control") if before else None
        body = [f"{_describe(part)}. The control for the re-enactment table: each silent clip rendered from "
                "digital silence of the same length, so the renderer has no speech to follow, and compared "
                "with the original as there. Whatever r_open or r_width it still scores is the real mouth's "
                "own motion showing through the render (jaw, chin and lips outside the re-drawn patch, or a "
                "patch that keeps some of the input), not lip sync: read the re-enactment figures against "
                "these."
                + (f" Before -> after: {_describe(old_part)} -> this run." if old_part else "")]
        for mode in modes:
            old = old_part["modes"].get(mode) if old_part else None
            body += ["", f"### {mode}", "", *figures_table(part["modes"][mode], old)]
        section = "reenact-control"
        title = "Re-enactment control: every synchronous clip rendered from silence"
    else:
        part = measured(lambda: run_renders(clips, modes, work, save, readout_dir=args.readout_dir))
        old_part = before.get("renders") if before else None
        body = [f"{_describe(part)}. Each clip's audio track removed, the silent video rendered from that "
                "same audio, and the rendered mouth compared frame by frame with the real one by "
                "`../shared/tools/syncjudge/selfcheck` (dlib landmarks). Unlike the loudness judge, a mouth "
                "that only follows loudness scores poorly here."
                + (f" Before -> after: {_describe(old_part)} -> this run." if old_part else "")]
        notes = []
        for mode in modes:
            old = old_part["modes"].get(mode) if old_part else None
            body += ["", f"### {mode}", "", *figures_table(part["modes"][mode], old)]
            notes += _notes(part["modes"][mode], mode)
        if notes:
            body += ["", *[f"- {n}" for n in notes]]
        section, title = "reenact", "Re-enactment: every synchronous clip re-rendered from its own audio"
    elapsed = time.perf_counter() - began
    body += ["", f"Measured {part['date']}." if args.report else f"{elapsed / 60:.1f} min in all."]
    text = "\n".join(body)
    print(text)
    if args.section:
        section, title = args.section, f"{title} ({args.label})"
    if not args.no_doc:
        write_section(section, title, text, command.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
