"""The render process: gathers a job's inputs, runs the engine, reports back over a pipe.

It runs in its own (spawned) process so that a crash or a runaway render in native code can
take down only itself; the supervising thread in the server sees the pipe close and fails the
job. It also exits on its own when the server dies, so no orphan keeps rendering.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
import traceback
from contextlib import ExitStack
from multiprocessing.connection import Connection
from pathlib import Path

from openlipsync.core.config import Settings
from openlipsync.core.quiet import native_stderr_silenced, quiet_third_party
from openlipsync.jobs.errors import JobError
from openlipsync.jobs.inputs.fetch import AllowList, FetchError, fetch
from openlipsync.jobs.inputs.youtube import download_youtube
from openlipsync.store.backends import open_blob_store
from openlipsync.store.blobs import BlobTooLarge

#: Seconds between progress messages (the engine reports every frame).
PROGRESS_EVERY_S = 0.2


def _exit_with_parent(parent_pid: int) -> None:
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _suffix(url: str) -> str:
    match = re.search(r"\.([A-Za-z0-9]{1,5})$", url.split("?", 1)[0].split("#", 1)[0])
    return f".{match.group(1).lower()}" if match else ".bin"


def _input(ref: str, kind: str, work_dir: Path, settings: Settings, stack: ExitStack) -> Path:
    """A local file for the input ``ref`` (an upload or a URL); ``kind`` is "video" or "audio"."""
    code = f"invalid_{kind}_file"
    if ref.startswith("api-assets/"):
        try:
            store = open_blob_store(settings.resolved_storage_url, settings)
            return stack.enter_context(store.local_path(ref, max_bytes=settings.max_upload_bytes))
        except FileNotFoundError as exc:
            raise JobError(code, f"the uploaded {kind} file {ref!r} is no longer stored") from exc
        except BlobTooLarge as exc:
            raise JobError("file_too_large", f"the uploaded {kind} file is larger than the upload limit "
                                             f"of {settings.max_upload_bytes} bytes") from exc
    try:
        return fetch(ref, work_dir / f"{kind}{_suffix(ref)}", max_bytes=settings.max_remote_bytes,
                     timeout_s=settings.remote_timeout_s, allow=AllowList(settings.remote_allow))
    except FetchError as exc:
        raise JobError("file_too_large" if exc.too_large else code, exc.message) from exc


def _render(job: dict, settings: Settings, work_dir: Path, conn: Connection) -> dict:
    last = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        moment = time.monotonic()
        if moment - last[0] >= PROGRESS_EVERY_S or done >= total:
            last[0] = moment
            conn.send(("progress", stage, done, total))

    with ExitStack() as stack:
        audio = _input(job["audio_input"], "audio", work_dir, settings, stack)
        if job["video_source"] == "youtube":
            video = download_youtube(job["youtube_url"], work_dir, max_bytes=settings.max_remote_bytes,
                                     timeout_s=settings.remote_timeout_s,
                                     allow=AllowList(settings.remote_allow))
        else:
            video = _input(job["video_input"], "video", work_dir, settings, stack)
        # Imported only now: a refused or failed fetch ends the job without loading the models.
        from openlipsync.engine.options import FacePick, RenderOptions
        from openlipsync.engine.render import render

        face = job.get("face")
        options = RenderOptions(mode=job["mode"], start=job["start_seconds"], end=job["end_seconds"],
                                max_fps=job["max_fps_limit"], face=FacePick(**face) if face else None)
        return render(video, audio, work_dir / "output.mp4", options, progress=progress).to_dict()


def child_main(conn: Connection, job: dict, settings_data: dict, work_dir: str, parent_pid: int) -> None:
    """Entry point of the render process; sends ("done", summary) or ("error", code, message)."""
    from openlipsync.media.errors import MediaError

    _exit_with_parent(parent_pid)
    quiet_third_party()
    # Native model logging goes nowhere; Python's own messages and tracebacks reach the server log.
    with native_stderr_silenced() as stderr:
        sys.stderr = stderr
        try:
            conn.send(("done", _render(job, Settings(**settings_data), Path(work_dir), conn)))
        except (JobError, MediaError) as exc:
            conn.send(("error", exc.code, exc.message))
        except Exception:
            traceback.print_exc()  # the operator's log has the detail; the user gets no server internals
            conn.send(("error", "unknown_error", "the render failed because of an internal error"))
        finally:
            conn.close()
            sys.stderr = sys.__stderr__
