"""Reading back what a render wrote, for assertions."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def frames(path: Path) -> list[np.ndarray]:
    """Every decoded frame of ``path`` as RGB."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
