"""Offline training code: corpora and fitting for learned parts of the engine."""
