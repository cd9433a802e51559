"""Viseme-class front end: a synthetic speech corpus with exact phone timings."""
