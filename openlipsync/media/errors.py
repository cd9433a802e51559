"""The one error type the media layer raises, carrying the job error code the API reports."""

from __future__ import annotations


class MediaError(Exception):
    """Input that cannot be decoded or a request that cannot be met.

    ``code`` is one of Magic Hour's render error codes (``invalid_video_file``,
    ``invalid_audio_file``, ``invalid_parameters``), so the job layer can report it as is.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
