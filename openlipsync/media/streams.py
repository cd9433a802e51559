"""Opening media files and choosing their streams, with every failure mapped to a MediaError.

One place decides what "undecodable" means, so the probe, the frame reader and the audio
reader report the same error code for the same broken file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import av
import av.container
import av.stream

from openlipsync.media.errors import MediaError

log = logging.getLogger(__name__)

# What PyAV raises for unreadable input: its own FFmpeg errors, plus OS errors (a missing file,
# a directory) and ValueError (some malformed headers surface that way).
DECODE_ERRORS: tuple[type[BaseException], ...] = (av.FFmpegError, OSError, ValueError)


def open_input(path: str | os.PathLike[str], code: str) -> av.container.InputContainer:
    """Open ``path`` for reading; ``code`` is the MediaError code to raise when that fails.

    The message names the input by kind and never carries the server's path or FFmpeg's errno
    text: it goes to whoever sent the file (the detail is logged here for the operator).
    """
    kind = "audio" if "audio" in code else "video"
    if not Path(path).is_file():
        log.warning("media input %s does not exist", path)
        raise MediaError(code, f"the {kind} file is missing")
    try:
        return av.open(os.fspath(path), mode="r")
    except DECODE_ERRORS as exc:
        log.info("cannot open media input %s: %s", path, exc)
        raise MediaError(code, f"the {kind} file is not a readable media file (corrupt, truncated, "
                               "or not audio/video)") from exc


def video_stream(container: av.container.InputContainer) -> av.stream.Stream | None:
    """The first real video stream; cover art in audio files (an attached picture) does not count."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def audio_stream(container: av.container.InputContainer) -> av.stream.Stream | None:
    """The first audio stream (the default track in every container we accept)."""
    return container.streams.audio[0] if container.streams.audio else None


def seconds(value: int | None, stream: av.stream.Stream) -> float | None:
    """A stream timestamp in seconds, or None where the container leaves it unset."""
    if value is None or stream.time_base is None:
        return None
    return float(value * stream.time_base)
