"""What the job layer reports when a request cannot be met, by kind; the API maps kinds to statuses.

``JobError`` is different: it is how a render fails, with one of Magic Hour's render error
codes, and it ends up in the project's ``error`` object rather than in an HTTP response.
"""

from __future__ import annotations


class ServiceError(Exception):
    default_message = "Request failed"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class InvalidRequest(ServiceError):
    default_message = "Invalid request"


class NotFound(ServiceError):
    default_message = "Not Found"


class InsufficientCredits(ServiceError):
    default_message = "Payment required"


class Unprocessable(ServiceError):
    default_message = "Unable to create video"


class LimitReached(ServiceError):
    """A per-key limit (``jobs/accounts/quotas.py``); the client may try again after ``retry_after_s``."""

    default_message = "Too many requests"

    def __init__(self, message: str | None = None, retry_after_s: int = 60) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


#: Magic Hour's documented render error codes.
JOB_ERROR_CODES = frozenset({
    "invalid_audio_file", "invalid_video_file", "invalid_youtube_url", "file_too_large",
    "processing_timeout", "invalid_parameters", "unknown_error",
})


class JobError(Exception):
    def __init__(self, code: str, message: str) -> None:
        assert code in JOB_ERROR_CODES, code
        super().__init__(message)
        self.code = code
        self.message = message
