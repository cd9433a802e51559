"""Records what each render is asked, for tests: a window on the API -> job -> render-child path.

A test server started with this folder on ``PYTHONPATH`` and ``OPENLIPSYNC_RECORD_OPTIONS=<file>``
in its environment runs this at every Python start, the render processes it spawns (and a
cluster's worker) included. Once ``openlipsync.engine.render`` is imported, its ``render`` is
wrapped: each call appends one JSON line ``{"video", "output", "options"}`` (``RenderOptions`` as a dict) to
the file, then runs the real engine unchanged. Nothing else is touched.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys

TARGET = "openlipsync.engine.render"


def _wrap(module) -> None:
    import dataclasses
    import functools
    import json

    real = module.render

    @functools.wraps(real)
    def render(video, audio, output, options=None, *args, **kwargs):
        record = {"video": str(video), "output": str(output),
                  "options": dataclasses.asdict(options) if options else None}
        with open(os.environ["OPENLIPSYNC_RECORD_OPTIONS"], "a") as sink:
            sink.write(json.dumps(record) + "\n")
        return real(video, audio, output, options, *args, **kwargs)

    module.render = render


class _Loader(importlib.abc.Loader):
    def __init__(self, inner) -> None:
        self.inner = inner

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module) -> None:
        self.inner.exec_module(module)
        _wrap(module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


if os.environ.get("OPENLIPSYNC_RECORD_OPTIONS"):
    sys.meta_path.insert(0, _Finder())
