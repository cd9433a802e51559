"""Where a project's files live: the output's blob key and the API paths of uploads and downloads.

Kept apart from the modules that hand out links and build the project object, which both need
these names, so that neither has to import the other.
"""

from __future__ import annotations


def upload_path(file_path: str) -> str:
    """The path of the signed PUT for ``file_path``."""
    return f"/uploads/{file_path}"


def output_name(project_id: str) -> str:
    """The file name the SDK saves the download under (the URL's last path segment)."""
    return f"lip-sync-{project_id}.mp4"


def output_key(project_id: str, attempt: str) -> str:
    """Where one attempt (named by its claim token) stores its output: a worker that lost its
    claim can overwrite or delete only its own file, never the one another attempt published."""
    return f"outputs/{project_id}/{attempt}/{output_name(project_id)}"


def download_path(project_id: str) -> str:
    return f"/downloads/{project_id}/{output_name(project_id)}"
