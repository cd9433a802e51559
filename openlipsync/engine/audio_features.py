"""Short-time band energies of a speech track, computed as it streams past.

Everything the speech stage decides (speech or silence, how loud, closures, spread or
rounded, the matching features) is a function of a few band energies per 10 ms hop, so this
module is the only place that touches samples. It keeps a few thousand samples of overlap,
never the track: memory is flat with length.

Hops are analysed in fixed blocks of frames whose boundaries depend only on the hop index,
never on where the caller's chunks happen to end, so the result is bit-identical for any
chunking (a BLAS product may round differently for a different batch size).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

HOP_SECONDS = 0.01
WINDOW_SECONDS = 0.025
N_MEL = 20
_BLOCK = 256  # hops per analysis block
_MEL_LOW_HZ = 60.0
_MEL_HIGH_HZ = 7600.0

#: Named bands (Hz): the speech band the loudness is read from, and the regions the closure
#: and lip-width cues compare. The upper edges are clipped to the Nyquist frequency.
BANDS: dict[str, tuple[float, float]] = {
    "speech": (100.0, 4000.0),  # voiced speech: where loudness follows the jaw
    "low": (100.0, 500.0),  # voicing bar, nasal murmur, F1 of close vowels
    "mid": (500.0, 4000.0),
    "high": (3000.0, 8000.0),  # bursts and fricatives
    # Spread vowels (ee, eh) put F2 above 1.5 kHz, rounded ones (oo, oh, w) below 1 kHz.
    "front": (1500.0, 3500.0),
    "back": (250.0, 1500.0),
    # A nasal's zero sits near 1 kHz for m but near 2 kHz for n: m keeps more 1-3 kHz energy.
    "f1": (300.0, 1000.0),
    "f2": (1000.0, 3000.0),
}


@dataclass
class HopFeatures:
    """Per-hop band powers; hop ``k`` is centred on ``k * hop`` seconds from the audio start."""

    hop: float  # seconds between hops (the hop in samples over the rate, so ~10 ms)
    bands: dict[str, np.ndarray]  # name -> (H,) power in the band, as a share of full scale (1 = 0 dBFS)
    mel: np.ndarray  # (H, N_MEL) mel band power, same scale per bin


def _mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def _mel_weights(freqs: np.ndarray, rate: int) -> np.ndarray:
    """Triangular mel filters, (bins, N_MEL), each normalised to a mean over its bins.

    The bands are the same at every rate, so band i means the same frequencies to the phonetic
    model whatever the recording; at a low rate the bands past the Nyquist frequency stay empty
    (zero power), as in band-limited speech.
    """
    edges_mel = np.linspace(_mel(_MEL_LOW_HZ), _mel(_MEL_HIGH_HZ), N_MEL + 2)
    edges = 700.0 * (10 ** (edges_mel / 2595.0) - 1.0)
    weights = np.zeros((len(freqs), N_MEL))
    for i in range(N_MEL):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        rise = (freqs - lo) / (mid - lo)
        fall = (hi - freqs) / (hi - mid)
        weights[:, i] = np.clip(np.minimum(rise, fall), 0.0, None)
        if weights[:, i].sum() == 0 and mid < rate / 2:  # narrower than a bin: take the nearest bin
            weights[np.argmin(np.abs(freqs - mid)), i] = 1.0
    return weights / np.maximum(weights.sum(axis=0), 1e-12)


def _band_weights(freqs: np.ndarray, rate: int) -> np.ndarray:
    """Indicator of each band's bins, (bins, bands): by Parseval, the band's share of the signal."""
    weights = np.zeros((len(freqs), len(BANDS)))
    for i, (lo, hi) in enumerate(BANDS.values()):
        inside = (freqs >= lo) & (freqs < min(hi, rate / 2))
        if not inside.any():
            inside = np.argmin(np.abs(freqs - lo)) == np.arange(len(freqs))
        weights[inside, i] = 1.0
    return weights


class HopAnalyser:
    """Feed consecutive mono blocks with :meth:`feed`, then :meth:`finish` for the hop arrays."""

    def __init__(self, rate: int) -> None:
        if not isinstance(rate, (int, np.integer)) or rate < 4000:
            raise ValueError(f"audio rate must be an integer of at least 4000 Hz, got {rate!r}")
        self.rate = int(rate)
        self.hop = max(1, round(rate * HOP_SECONDS))
        self.window = round(rate * WINDOW_SECONDS)
        self.nfft = 1 << (self.window - 1).bit_length()
        freqs = np.fft.rfftfreq(self.nfft, 1.0 / rate)
        self._taper = np.hanning(self.window)
        # One-sided spectrum power over the taper's energy: a band's power is the variance of the
        # signal in it, so 1.0 is full scale whatever the rate, and silence thresholds are absolute.
        scale = 2.0 / (self.nfft * float(np.sum(self._taper**2)))
        weights = np.concatenate([_band_weights(freqs, rate), _mel_weights(freqs, rate)], axis=1)
        self._weights = scale * weights
        # Hop k's window starts at k * hop - window // 2: pad the front so hop 0 is centred on sample 0.
        self._buffer = np.zeros(self.window // 2)
        # Small chunks wait here until a block is complete, so each sample is copied about once.
        self._pending: list[np.ndarray] = []
        self._pending_len = 0
        self._seen = 0
        self._done = 0
        self._blocks: list[np.ndarray] = []

    def feed(self, chunk: np.ndarray) -> None:
        chunk = np.asarray(chunk)
        if chunk.ndim != 1:
            raise ValueError(f"audio chunks must be mono (1-D), got shape {chunk.shape}")
        if not np.issubdtype(chunk.dtype, np.floating):
            raise ValueError(f"audio chunks must be float samples in [-1, 1], got {chunk.dtype}")
        self._seen += len(chunk)
        # A decoder's NaN or inf is a broken sample, not a loud one.
        self._pending.append(np.nan_to_num(chunk.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0))
        self._pending_len += len(chunk)
        need = (_BLOCK - 1) * self.hop + self.window
        if len(self._buffer) + self._pending_len >= need:
            self._take_pending()
        while len(self._buffer) >= need:
            self._analyse(self._buffer[:need], _BLOCK)
            self._buffer = self._buffer[_BLOCK * self.hop:]

    def finish(self) -> HopFeatures:
        self._take_pending()
        total = -(-self._seen // self.hop)  # hops centred inside the audio
        left = total - self._done
        if left > 0:
            need = (left - 1) * self.hop + self.window
            tail = np.zeros(need)
            n = min(need, len(self._buffer))
            tail[:n] = self._buffer[:n]
            self._analyse(tail, left)
        self._buffer = np.zeros(0)
        table = np.concatenate(self._blocks) if self._blocks else np.zeros((0, self._weights.shape[1]))
        bands = {name: table[:, i] for i, name in enumerate(BANDS)}
        return HopFeatures(hop=self.hop / self.rate, bands=bands, mel=table[:, len(BANDS):])

    def _take_pending(self) -> None:
        self._buffer = np.concatenate([self._buffer, *self._pending])
        self._pending, self._pending_len = [], 0

    def _analyse(self, samples: np.ndarray, count: int) -> None:
        frames = np.lib.stride_tricks.sliding_window_view(samples, self.window)[:: self.hop][:count]
        # Removing each frame's mean makes a DC offset invisible; the taper would leak it into low bins.
        frames = (frames - frames.mean(axis=1, keepdims=True)) * self._taper
        spectrum = np.fft.rfft(frames, self.nfft)
        power = spectrum.real**2 + spectrum.imag**2
        self._blocks.append(power @ self._weights)
        self._done += count


def hop_features(chunks: Iterable[np.ndarray], rate: int) -> HopFeatures:
    """Stream ``chunks`` (mono float blocks at ``rate``) through a :class:`HopAnalyser`."""
    analyser = HopAnalyser(rate)
    for chunk in chunks:
        analyser.feed(chunk)
    return analyser.finish()
