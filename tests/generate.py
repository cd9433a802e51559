"""Generated test fixtures: a moving face video and synthetic speech, small and fast to make.

The face is the head from scikit-image's bundled astronaut photo (a real face, so face
landmark models find it) gliding over a textured background; speech comes from espeak-ng,
whose phoneme times are exact. Nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from skimage import data

ESPEAK_TOOL = Path(__file__).resolve().parents[2] / "shared" / "tools" / "espeak_phonemes.py"

_ENCODERS = {"h264": "libx264", "hevc": "libx265", "vp9": "libvpx-vp9", "mpeg4": "mpeg4"}
_FORMATS = {"mkv": "matroska"}
# Everything else gets AAC. avi gets PCM: an mp3 encoder's negative start time makes the avi
# muxer shift the whole file and a video frame slot goes missing.
_AUDIO_ENCODERS = {"webm": "libopus", "avi": "pcm_s16le"}
_VFR_STEPS = (1, 3, 2, 2, 1, 3)  # frame durations in half frame periods: irregular, average 1/fps
_FACE_ROWS, _FACE_COLS = slice(5, 215), slice(135, 325)  # the astronaut's head and shoulders


def face_video(
    path: str | os.PathLike[str],
    seconds: float = 3.0,
    fps: float = 25,
    size: tuple[int, int] = (640, 480),
    *,
    leave_frame: bool = False,
    no_face: bool = False,
    vfr: bool = False,
    codec: str = "h264",
    container: str = "mp4",
    audio: str | os.PathLike[str] | None = None,
    rotation: int = 0,
) -> Path:
    """Write a clip of the astronaut's face moving smoothly; returns ``path``.

    ``size`` is (width, height) as displayed. ``leave_frame`` slides the face out of the frame
    for the middle third; ``no_face`` draws only the background; ``vfr`` gives irregular frame
    durations averaging ``1/fps``; ``audio`` is a sound file muxed in as the clip's track;
    ``rotation`` (clockwise degrees) stores the picture turned the other way with a display
    matrix that turns it back, as phones do. Odd sizes work (libx264 then uses 4:4:4).
    """
    path = Path(path)
    if vfr and container == "avi":
        raise ValueError("avi cannot hold variable frame rate video")
    width, height = size
    stored = (height, width) if rotation in (90, 270) else (width, height)
    rate = Fraction(fps).limit_denominator(1001)
    tick = 1 / (2 * rate) if vfr else 1 / rate
    with av.open(os.fspath(path), "w", format=_FORMATS.get(container, container)) as out:
        video = out.add_stream(_ENCODERS[codec], rate=rate)
        video.width, video.height = stored
        odd = stored[0] % 2 or stored[1] % 2
        video.pix_fmt = "yuv444p" if odd and codec == "h264" else "yuv420p"
        video.time_base = video.codec_context.time_base = tick
        if codec == "h264":
            video.options = {"preset": "ultrafast", "crf": "20"}
        if codec == "hevc":
            video.options = {"preset": "ultrafast", "x265-params": "log-level=error"}
        if rotation:
            video.set_display_rotation(-rotation % 360)
        pending = _audio_packets(out, container, audio, seconds) if audio is not None else []
        face = None if no_face else data.astronaut()[_FACE_ROWS, _FACE_COLS]
        background = _background(width, height)
        pts, index = 0, 0
        while pts * tick < seconds - 1e-9:
            image = _compose(background, face, float(pts * tick), seconds, leave_frame)
            if rotation:
                image = np.ascontiguousarray(np.rot90(image, k=rotation // 90))  # counter-clockwise
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = pts
            while pending and pending[0].pts * pending[0].time_base <= pts * tick:
                out.mux(pending.pop(0))  # interleaved: avi inserts gaps into a late audio track
            out.mux(video.encode(frame))
            pts += _VFR_STEPS[index % len(_VFR_STEPS)] if vfr else 1
            index += 1
        out.mux(video.encode(None))
        out.mux(pending)
    return path


def _background(width: int, height: int) -> np.ndarray:
    """A soft colour gradient with a faint fixed texture: plain enough to find the face, not flat."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    texture = 6 * np.sin(xs / 7.0) * np.cos(ys / 11.0)
    red = 90 + 60 * xs / max(width, 1) + texture
    green = 110 + 40 * ys / max(height, 1) + texture
    blue = np.full_like(xs, 140) - texture
    return np.clip(np.dstack([red, green, blue]), 0, 255).astype(np.uint8)


def _compose(background: np.ndarray, face: np.ndarray | None, t: float, seconds: float, leave: bool):
    """The frame at time ``t``: the face (about half the frame high) on a slow figure-of-eight path."""
    image = background.copy()
    if face is None:
        return image
    height, width = image.shape[:2]
    scale = 0.55 * height / face.shape[0]
    fh, fw = round(face.shape[0] * scale), round(face.shape[1] * scale)
    scaled = cv2.resize(face, (fw, fh), interpolation=cv2.INTER_AREA)
    phase = 2 * np.pi * t / max(seconds, 1e-6)
    cx = width / 2 + 0.12 * width * np.sin(phase)
    cy = height / 2 + 0.06 * height * np.sin(2 * phase)
    if leave:
        cx += _exit_offset(t, seconds) * (width / 2 + fw)
    _paste(image, scaled, round(cx - fw / 2), round(cy - fh / 2))
    return image


def _exit_offset(t: float, seconds: float) -> float:
    """0 in frame, 1 fully out: slides out over the 0.3 s before the middle third, back after it."""
    ramp, first, second = 0.3, seconds / 3, 2 * seconds / 3
    if first <= t < second:
        return 1.0
    if first - ramp <= t < first:
        return (t - first + ramp) / ramp
    if second <= t < second + ramp:
        return 1.0 - (t - second) / ramp
    return 0.0


def _paste(image: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    """Blend ``patch`` at (x, y) through a feathered ellipse, clipped to the image."""
    ph, pw = patch.shape[:2]
    mask = np.zeros((ph, pw), np.float32)
    cv2.ellipse(mask, (pw // 2, ph // 2), (int(pw * 0.46), int(ph * 0.48)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(pw, ph) / 40)[..., None]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + pw, image.shape[1]), min(y + ph, image.shape[0])
    if x0 >= x1 or y0 >= y1:
        return
    region = image[y0:y1, x0:x1].astype(np.float32)
    part = patch[y0 - y : y1 - y, x0 - x : x1 - x].astype(np.float32)
    alpha = mask[y0 - y : y1 - y, x0 - x : x1 - x]
    image[y0:y1, x0:x1] = (alpha * part + (1 - alpha) * region).astype(np.uint8)


def _audio_packets(out: av.container.OutputContainer, container: str, audio, seconds: float) -> list:
    """The first ``seconds`` of ``audio`` encoded for the clip, in order (fixtures are small)."""
    stream = out.add_stream(_AUDIO_ENCODERS.get(container, "aac"), rate=48000, layout="mono")
    resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=48000)
    packets: list[av.Packet] = []
    written = 0
    with av.open(os.fspath(audio)) as source:
        for frame in source.decode(audio=0):
            for chunk in resampler.resample(frame):
                if written < seconds * 48000:
                    chunk.pts = written
                    written += chunk.samples
                    packets += stream.encode(chunk)
    return packets + stream.encode(None)


def speech_wav(
    path: str | os.PathLike[str], text: str = "Bob bought a big map. Papa might buy more."
) -> dict:
    """Speak ``text`` with espeak-ng into a wav; returns the tool's JSON (rate, duration, phonemes, words)."""
    if not ESPEAK_TOOL.is_file():
        raise FileNotFoundError(f"missing {ESPEAK_TOOL}: fixtures expect ../shared/tools beside the checkout")
    result = subprocess.run(
        [sys.executable, os.fspath(ESPEAK_TOOL), text, os.fspath(path)], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"espeak_phonemes.py failed (is espeak-ng installed?): {result.stderr.strip()}")
    return json.loads(result.stdout)


def silence_wav(path: str | os.PathLike[str], seconds: float, rate: int = 16000) -> Path:
    """A mono 16-bit wav of digital silence."""
    with wave.open(os.fspath(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.zeros(round(seconds * rate), np.int16).tobytes())
    return Path(path)
