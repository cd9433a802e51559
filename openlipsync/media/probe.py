"""What a file holds before any work is planned: size, orientation, rate, length, audio."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.container
import av.stream

from openlipsync.media.errors import MediaError
from openlipsync.media.streams import DECODE_ERRORS, audio_stream, open_input, seconds, video_stream


@dataclass(frozen=True)
class Colour:
    """How a video's YUV is to be shown: FFmpeg's matrix, primaries and transfer codes (2: unspecified).

    The renderer reads every input's YUV through one matrix and writes it back through the same
    one (media.pixels), so the YUV of an untouched pixel comes back as it was; the output must then
    carry the input's own tags for players to show it as they showed the input. Untagged, an
    HD phone clip (BT.709) was shown through BT.601 by any player that reads the tags, lips and skin
    shifted in hue (man_kitchen_portrait_hevc rendered in lite: lips 3.6 b* bluer to PyAV's decoder).
    """

    matrix: int = 2
    primaries: int = 2
    transfer: int = 2


@dataclass(frozen=True)
class VideoInfo:
    """A video's facts as the engine sees them: sizes are those of the upright, even-cropped frames."""

    width: int  # display width after rotation, cropped to an even number
    height: int  # display height after rotation, cropped to an even number
    rotation: int  # clockwise degrees (0/90/180/270) that turn the stored picture upright
    fps: float  # average frame rate
    duration: float  # seconds
    frame_count: int  # exact where the container says, else duration * fps rounded
    codec: str
    has_audio: bool
    colour: Colour = Colour()


def rotation_of(frame: av.VideoFrame, stream: av.stream.Stream) -> int:
    """Clockwise degrees to show ``frame`` upright, from its display matrix or a legacy ``rotate`` tag.

    FFmpeg reports the display matrix as a counter-clockwise angle; phones write it as -90 for a
    portrait clip, which is the ``rotate=90`` tag older muxers wrote. Both become 90 here.
    """
    counter_clockwise = frame.rotation or 0
    if counter_clockwise:
        return round(-counter_clockwise / 90) * 90 % 360
    tag = stream.metadata.get("rotate")
    try:
        return round(float(tag) / 90) * 90 % 360 if tag else 0
    except ValueError:
        return 0


def _fps(stream: av.stream.Stream, duration: float | None) -> float:
    """The average rate, falling back to the guessed/nominal rate, then to frames over duration."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and 0 < rate < 1000:
            return float(rate)
    if stream.frames and duration:
        return stream.frames / duration
    raise MediaError("invalid_video_file", "the video stream has no frame rate")


def _duration(container: av.container.InputContainer, stream: av.stream.Stream) -> float | None:
    """Stream duration if the container stores it, else the container's (webm, mkv keep only that)."""
    duration = seconds(stream.duration, stream)
    if duration:
        return duration
    return container.duration / av.time_base if container.duration else None


def _first_frame(
    container: av.container.InputContainer, stream: av.stream.Stream, name: str
) -> av.VideoFrame:
    """Decode one frame: proves the stream decodes and carries the per-frame rotation."""
    try:
        for frame in container.decode(stream):
            return frame
    except DECODE_ERRORS as exc:
        raise MediaError("invalid_video_file", f"{name}: the video stream does not decode") from exc
    raise MediaError("invalid_video_file", f"{name}: the video stream holds no decodable frame")


#: Largest picture accepted: 8K UHD in pixels, and no side over 8192. Bigger frames would take
#: hundreds of megabytes each through the renderer; the header is checked before any decoding.
MAX_PIXELS, MAX_SIDE = 7680 * 4320, 8192


def check_dimensions(width: int, height: int, name: str) -> None:
    """MediaError("invalid_video_file") for a picture larger than the renderer takes."""
    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
        raise MediaError("invalid_video_file", f"{name}: the video is {width}x{height}; the largest "
                                               f"accepted is 7680x4320 (8K), no side over {MAX_SIDE}")


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Facts about a video file; MediaError("invalid_video_file") for anything without a decodable
    video, or with one too large to render."""
    name = Path(path).name
    with open_input(path, "invalid_video_file") as container:
        stream = video_stream(container)
        if stream is None:
            raise MediaError("invalid_video_file", f"{name}: no video stream")
        check_dimensions(stream.codec_context.width or 0, stream.codec_context.height or 0, name)
        frame = _first_frame(container, stream, name)
        check_dimensions(frame.width, frame.height, name)
        rotation = rotation_of(frame, stream)
        width, height = (frame.height, frame.width) if rotation in (90, 270) else (frame.width, frame.height)
        duration = _duration(container, stream)
        fps = _fps(stream, duration)
        if not duration:
            duration = stream.frames / fps if stream.frames else 0.0
        return VideoInfo(
            width=width - width % 2,
            height=height - height % 2,
            rotation=rotation,
            fps=fps,
            duration=duration,
            frame_count=stream.frames or round(duration * fps),
            codec=stream.codec_context.name,
            has_audio=audio_stream(container) is not None,
            colour=Colour(int(frame.colorspace), int(frame.color_primaries), int(frame.color_trc)),
        )


def probe_audio_duration(path: str | os.PathLike[str]) -> float:
    """Length in seconds of the first audio stream of any audio or video file.

    The first audio frame is always decoded, so a file whose header states a length but whose
    audio does not decode is rejected here rather than halfway through a render. Where the
    container does not state the length (raw streams, some ogg files) the samples are counted.
    """
    name = Path(path).name
    with open_input(path, "invalid_audio_file") as container:
        stream = audio_stream(container)
        if stream is None:
            raise MediaError("invalid_audio_file", f"{name}: no audio stream")
        stated = seconds(stream.duration, stream)
        samples, rate = 0, stream.rate
        try:
            for frame in container.decode(stream):
                if stated:
                    return stated
                samples, rate = samples + frame.samples, frame.sample_rate
        except DECODE_ERRORS as exc:
            raise MediaError("invalid_audio_file", f"{name}: its audio does not decode") from exc
        if not samples:
            raise MediaError("invalid_audio_file", f"{name}: the audio stream holds no samples")
        return float(Fraction(samples, rate))
