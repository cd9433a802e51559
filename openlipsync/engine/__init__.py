"""The lip-sync renderer: a library with no HTTP and no database.

``render(video, audio, out, options, progress)`` is the one entry point.
"""
