"""Decoding, trimming, frame-rate limiting, encoding and muxing (PyAV). No face or speech logic."""
