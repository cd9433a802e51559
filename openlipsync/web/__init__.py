"""The web page: static files only, served by the API at ``/`` so there is no build step or second server."""

from __future__ import annotations

from pathlib import Path

#: The folder the API mounts at ``/`` (index.html, ES modules, stylesheet).
STATIC_DIR = Path(__file__).resolve().parent / "static"
