"""The output file: H.264 video at true timestamps with the new audio muxed in as AAC, streamed.

Audio is encoded alongside the video as frames arrive (never read whole), cut or padded with
silence so it covers exactly the video's length. Without ``audio_path`` the file has no audio
track at all. The file appears under its name only when complete: it is written to a hidden
temporary file beside the target and renamed on a successful close.

Encoding runs on a thread of its own behind a short queue, with x264's frame threads: the
encoder is the largest single cost of a render, and libx264 and PyAV release the GIL, so the
caller's next frame is decoded and re-animated while this one is compressed. Measured on a
1280x720 clip on 2 cores, frame threads alone take x264 from 2.5 s to 1.8 s for 282 frames
(the FFmpeg default is slice threads).
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import threading
import uuid
from collections.abc import Generator
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np
from av.video.reformatter import ColorRange

from openlipsync.media.audio import iter_audio
from openlipsync.media.pixels import rgb_to_frame
from openlipsync.media.probe import Colour

# 90 kHz is the MPEG clock: fine enough that VFR timestamps keep their spacing to 11 microseconds.
_TIME_BASE = Fraction(1, 90000)
_AUDIO_RATE = 48000
_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
#: Frames waiting for the encoder thread: enough to ride out a slow frame, 12 MiB at 1080p.
_QUEUE_FRAMES = 4


def x264_options(crf: int, preset: str) -> dict[str, str]:
    """The encoder settings of every output (and of the trial encodes that choose its CRF).

    Same input, same bits: x264's AVX-512 code reads memory it never wrote (somewhere in its
    MB-tree rate control, which steadies the output when turned off), so on a CPU with AVX-512 the
    same frames encoded twice could differ by a few levels at most widths (590, 592, 720, 1080 px;
    not 1280 or 1920). Its AVX2 code does not; it costs 2-8% more encoding time there
    (``benchmarks.encoder``). No B-frames: encoding is faster, for somewhat larger files.
    """
    params = "bframes=0:asm=AVX2" if _has_avx512() else "bframes=0"
    return {"crf": str(crf), "preset": preset, "x264-params": params}


@functools.cache
def _has_avx512() -> bool:
    """Whether x264 would pick its AVX-512 code here. Naming a lower set is safe only on a CPU
    that has it (x264 then uses it unchecked), and every CPU with AVX-512 has AVX2. NumPy's own
    runtime dispatch detected the features; its table is private, so a NumPy without it counts
    as no AVX-512."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:
        return False
    return bool(features.get("AVX512_SKX")) and bool(features.get("AVX2"))


class VideoWriter:
    """Context manager writing RGB frames to an H.264 (yuv420p, libx264 CRF) file with AAC audio.

    ``audio_path`` is read from ``audio_start`` seconds on; the track ends where the video ends.
    ``colour`` is the input's (probe.Colour): the frames were read through the same matrix they
    are written with, so the output is tagged as the input was, in limited range.
    """

    def __init__(
        self,
        out_path: str | os.PathLike[str],
        width: int,
        height: int,
        fps: float,
        *,
        audio_path: str | os.PathLike[str] | None = None,
        audio_start: float = 0.0,
        crf: int = 18,
        preset: str = "veryfast",
        colour: Colour = Colour(),
    ) -> None:
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"yuv420p needs a positive even size, got {width}x{height}")
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.out_path = Path(out_path)
        suffix = self.out_path.suffix.lower()
        self._tmp_path = self.out_path.with_name(f".{self.out_path.stem}.{uuid.uuid4().hex[:8]}.part{suffix}")
        self._size = (height, width)
        self._frame_ticks = max(1, round(1 / (fps * _TIME_BASE)))
        # An audio source that fails to open fails here, before any file is created.
        self._audio: Generator[np.ndarray, None, None] | None = None
        if audio_path is not None:
            self._audio = iter_audio(audio_path, rate=_AUDIO_RATE, start=audio_start, chunk_seconds=1.0)
        container_format = _FORMATS.get(suffix, "mp4")
        options = {"movflags": "+faststart"} if container_format in ("mp4", "mov") else {}
        self._container = av.open(os.fspath(self._tmp_path), "w", format=container_format, options=options)
        self._closed = False
        self._encoder: threading.Thread | None = None
        try:
            self._video = self._container.add_stream("libx264", rate=Fraction(fps).limit_denominator(100000))
            self._video.width, self._video.height, self._video.pix_fmt = width, height, "yuv420p"
            self._video.time_base = _TIME_BASE
            self._video.codec_context.time_base = _TIME_BASE
            self._video.options = x264_options(crf, preset)
            context = self._video.codec_context
            context.colorspace, context.color_primaries = colour.matrix, colour.primaries
            context.color_trc, context.color_range = colour.transfer, ColorRange.MPEG
            context.thread_type = "FRAME"
            self._audio_stream = None
            if self._audio is not None:
                self._audio_stream = self._container.add_stream("aac", rate=_AUDIO_RATE, layout="mono")
                self._audio_stream.time_base = Fraction(1, _AUDIO_RATE)
        except BaseException:
            self._abort()
            raise
        self._audio_buffer = np.zeros(0, np.float32)
        self._audio_written = 0  # samples sent to the encoder
        self._last_pts: int | None = None
        self._queue: queue.Queue[tuple[av.VideoFrame, float] | None] = queue.Queue(_QUEUE_FRAMES)
        self._failure: BaseException | None = None
        self._discard = False  # set when aborting: queued frames no longer matter
        self._encoder = threading.Thread(target=self._encode_queued, name="video-encoder", daemon=True)
        self._encoder.start()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()

    def write(self, image: np.ndarray, time: float) -> None:
        """Queue one RGB frame shown from ``time`` seconds on; times must increase.

        The image is converted before this returns, so the caller may reuse it at once. An error
        of the encoder thread is raised here, at the next write, or at close.
        """
        if image.shape != (*self._size, 3) or image.dtype != np.uint8:
            raise ValueError(f"expected a {self._size[0]}x{self._size[1]}x3 uint8 image, got {image.shape}")
        pts = round(time / _TIME_BASE)
        if self._last_pts is not None and pts <= self._last_pts:
            raise ValueError(f"frame times must increase: {time}s after {self._last_pts * _TIME_BASE}s")
        self._raise_failure()
        frame = rgb_to_frame(image)
        frame.pts, frame.time_base = pts, _TIME_BASE
        self._last_pts = pts
        self._queue.put((frame, time))

    def _encode_queued(self) -> None:
        """The encoder thread: encode and mux queued frames until the ``None`` that ends the stream.

        After a failure it keeps taking frames (and drops them) so that a writer blocked on the
        full queue wakes up and sees the failure.
        """
        while (item := self._queue.get()) is not None:
            if self._failure is not None or self._discard:
                continue
            try:
                frame, time = item
                self._mux(self._video.encode(frame))
                self._write_audio_until(time)
            except BaseException as exc:  # handed to the caller's thread
                self._failure = exc

    def _join_encoder(self) -> None:
        if self._encoder is not None and self._encoder.is_alive():
            self._queue.put(None)
            self._encoder.join()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def close(self) -> None:
        """Flush both encoders, finish the file and move it into place; on failure leave nothing."""
        if self._closed:
            return
        try:
            self._join_encoder()
            self._raise_failure()
            if self._last_pts is None:
                raise ValueError("no frame was written")
            self._mux(self._video.encode(None))
            end = float((self._last_pts + self._frame_ticks) * _TIME_BASE)
            self._write_audio_until(end)
            if self._audio_stream is not None:
                self._mux(self._audio_stream.encode(None))
            self._stop_audio_source()
            self._closed = True
            self._container.close()
            os.replace(self._tmp_path, self.out_path)
        except BaseException:
            self._abort()
            raise

    def _abort(self) -> None:
        self._discard = True
        self._join_encoder()
        self._stop_audio_source()
        if not self._closed:
            self._closed = True
            with contextlib.suppress(av.FFmpegError, OSError, ValueError):  # its trailer no longer matters
                self._container.close()
        self._tmp_path.unlink(missing_ok=True)

    def _stop_audio_source(self) -> None:
        """Close the source file now rather than whenever the garbage collector gets to it."""
        if self._audio is not None:
            self._audio.close()
            self._audio = None

    def _mux(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            if packet.stream is self._video:
                # The mp4 muxer takes each sample's length from the next one's timestamp; only the
                # last needs its own, and one nominal frame period is the honest guess for it.
                packet.duration = self._frame_ticks
            self._container.mux(packet)

    def _write_audio_until(self, time: float) -> None:
        """Encode audio up to ``time`` seconds, silence where the source has ended."""
        if self._audio_stream is None:
            return
        target = round(time * _AUDIO_RATE)
        while self._audio_written + len(self._audio_buffer) < target and self._audio is not None:
            chunk = next(self._audio, None)
            if chunk is None:
                self._audio = None
                break
            self._audio_buffer = np.concatenate([self._audio_buffer, chunk])
        needed = target - self._audio_written
        # Short of the target only once the source has run out: silence follows the video frame
        # by frame from there. Padded only at close, the silence was one array as long as the rest
        # of the clip, and the muxer, which interleaves by time, held every video packet since the
        # speech ended in memory until then: a 5-minute 1080p render peaked 150 MB higher than a
        # 10 s one for that alone.
        if len(self._audio_buffer) < needed:
            silence = np.zeros(needed - len(self._audio_buffer), np.float32)
            self._audio_buffer = np.concatenate([self._audio_buffer, silence])
        samples, self._audio_buffer = self._audio_buffer[:needed], self._audio_buffer[needed:]
        if not len(samples):
            return
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
        frame.sample_rate, frame.time_base = _AUDIO_RATE, Fraction(1, _AUDIO_RATE)
        frame.pts = self._audio_written
        self._audio_written += len(samples)
        self._mux(self._audio_stream.encode(frame))
