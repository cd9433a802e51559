"""Shared test plumbing: where the real clips are, and a clear failure when they are not."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
MEDIA = SHARED / "media"


def shared_media(name: str) -> Path:
    """Path of a real clip in ../shared/media; fails (not skips) the test when it is missing."""
    path = MEDIA / name
    if not path.is_file():
        pytest.fail(f"missing test media {path}: the tests expect ../shared/media beside the checkout")
    return path
