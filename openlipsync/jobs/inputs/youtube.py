"""YouTube inputs through yt-dlp (as a library), behind the same SSRF guard as URL inputs.

yt-dlp only reads the page (its YouTube extractors alone: no generic extractor that would
fetch whatever URL it is given), and every name it resolves meanwhile passes the same check
(``guarded_resolution``); the media itself is downloaded by ``fetch``, which checks and pins
every address it connects to.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from openlipsync.jobs.errors import JobError
from openlipsync.jobs.inputs.fetch import AllowList, FetchError, check_url, fetch, guarded_resolution

#: A single file with both picture and sound, so no muxing is needed.
FORMAT = "best[vcodec!=none][acodec!=none][ext=mp4]/best[vcodec!=none][acodec!=none]/best[vcodec!=none]"


def download_youtube(url: str, dest_dir: Path, *, max_bytes: int, timeout_s: float, allow: AllowList) -> Path:
    """The video at the YouTube ``url``, saved in ``dest_dir``; JobError(invalid_youtube_url) if not."""
    from yt_dlp import YoutubeDL
    from yt_dlp.utils import YoutubeDLError

    refused: list[FetchError] = []
    try:
        check_url(httpx.URL(url), allow)
        options = {
            "quiet": True, "no_warnings": True, "noprogress": True, "noplaylist": True,
            "skip_download": True, "format": FORMAT, "socket_timeout": timeout_s,
            "allowed_extractors": ["youtube.*"], "retries": 0, "extractor_retries": 0,
        }
        with guarded_resolution(allow) as refused, YoutubeDL(options) as ydl:
            info = ydl.extract_info(url, download=False)
        media_url, ext = info.get("url"), info.get("ext") or "mp4"
        if not media_url:
            raise JobError("invalid_youtube_url", f"no downloadable video found at {url}")
        return fetch(media_url, dest_dir / f"youtube.{ext}", max_bytes=max_bytes, timeout_s=timeout_s,
                     allow=allow)
    except FetchError as exc:
        if exc.too_large:
            raise JobError("file_too_large", exc.message) from exc
        raise JobError("invalid_youtube_url", f"cannot fetch the YouTube video: {exc.message}") from exc
    except (YoutubeDLError, httpx.InvalidURL, ValueError) as exc:
        if refused:
            message = f"cannot fetch the YouTube video: {refused[0].message}"
            raise JobError("invalid_youtube_url", message) from exc
        raise JobError(
            "invalid_youtube_url",
            f"cannot read the YouTube video at {url} (private, age-restricted, region-restricted, "
            "unavailable, or not a YouTube URL)",
        ) from exc
