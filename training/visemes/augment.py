"""Waveform augmentation that keeps phone timings exact.

Synthetic voices are clean, steady and studio-loud; real uploads are noisy, reverberant,
band-limited, quiet and codec-mangled. Each transform here moves the synthetic audio towards
that while keeping every sample where the labels say it is: filters run forwards and backwards
(zero phase), the reverb's impulse response starts with the direct sound at lag 0, the codec
round trip is re-aligned to its input by cross-correlation, and the one transform that does move
time (resampling as a pitch/formant shift) reports the factor so the caller scales phone times.

All randomness comes from the ``numpy.random.Generator`` passed in, so a seed reproduces a corpus.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np
from scipy import signal


@dataclass
class Augmented:
    """An augmented waveform; phone times in the input map to ``time_scale * t`` in ``samples``."""

    samples: np.ndarray
    time_scale: float = 1.0
    steps: list[str] = field(default_factory=list)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def coloured_noise(n: int, colour: str, rng: np.random.Generator) -> np.ndarray:
    """White, pink (1/f power) or brown (1/f^2) noise of unit RMS."""
    white = rng.standard_normal(n)
    if colour == "white" or n < 4:
        return white / _rms(white)
    spectrum = np.fft.rfft(white)
    f = np.fft.rfftfreq(n)
    f[0] = f[1]
    spectrum /= f ** (0.5 if colour == "pink" else 1.0)
    noise = np.fft.irfft(spectrum, n)
    return noise / _rms(noise)


def babble(n: int, others: Sequence[np.ndarray], rng: np.random.Generator) -> np.ndarray | None:
    """Sum of 3-6 other utterances, each at a random offset and level, unit RMS; None without any."""
    usable = [o for o in others if len(o) > 0]
    if not usable:
        return None
    out = np.zeros(n)
    for _ in range(int(rng.integers(3, 7))):
        other = usable[int(rng.integers(len(usable)))]
        tiled = np.resize(other, n + len(other))  # np.resize repeats the signal
        start = int(rng.integers(len(other)))
        out += tiled[start:start + n] / _rms(other) * rng.uniform(0.5, 1.0)
    return out / _rms(out)


def add_noise(x: np.ndarray, rate: int, rng: np.random.Generator, others: Sequence[np.ndarray] = ()) -> str:
    """Add white/pink/brown/babble noise in place at 5-30 dB SNR; returns a description."""
    kind = str(rng.choice(["white", "pink", "brown", "babble"]))
    noise = babble(len(x), others, rng) if kind == "babble" else None
    if noise is None:
        kind = "pink" if kind == "babble" else kind
        noise = coloured_noise(len(x), kind, rng)
    snr = float(rng.uniform(5.0, 30.0))
    x += (noise * _rms(x) / 10 ** (snr / 20)).astype(x.dtype)
    return f"noise:{kind}:{snr:.0f}dB"


def reverb(x: np.ndarray, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Exponentially decaying noise impulse response (RT60 0.1-0.8 s), direct sound at lag 0."""
    rt60 = float(rng.uniform(0.1, 0.8))
    t = np.arange(int(rt60 * rate)) / rate
    ir = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60)  # -60 dB at rt60
    ir[: max(1, int(0.002 * rate))] = 0.0  # the first reflections arrive after the direct path
    ir *= 1.0 / (np.sqrt(np.sum(ir**2)) + 1e-12)
    wet = signal.fftconvolve(x, ir)[: len(x)]
    mix = float(rng.uniform(0.2, 0.8))
    y = (1 - mix) * x + mix * wet * _rms(x) / (_rms(wet) + 1e-12)
    return y.astype(x.dtype), f"reverb:{rt60:.2f}s:{mix:.2f}"


def _biquad(kind: str, f0: float, gain_db: float, rate: int, q: float = 0.707) -> np.ndarray:
    """RBJ cookbook shelf/peak biquad as one second-order section."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / rate
    alpha = np.sin(w0) / (2 * q)
    cos = np.cos(w0)
    if kind == "peak":
        b = [1 + alpha * a, -2 * cos, 1 - alpha * a]
        den = [1 + alpha / a, -2 * cos, 1 - alpha / a]
    else:
        sign = 1 if kind == "low" else -1
        sq = 2 * np.sqrt(a) * alpha
        b = [a * ((a + 1) - sign * (a - 1) * cos + sq), sign * 2 * a * ((a - 1) - sign * (a + 1) * cos),
             a * ((a + 1) - sign * (a - 1) * cos - sq)]
        den = [(a + 1) + sign * (a - 1) * cos + sq, -sign * 2 * ((a - 1) + sign * (a + 1) * cos),
               (a + 1) + sign * (a - 1) * cos - sq]
    return np.concatenate([np.array(b) / den[0], np.array(den) / den[0]])[None, :]


def equalise(x: np.ndarray, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Random low/high shelves and a peak (+-10 dB), or a 300-3400 Hz telephone band; zero phase."""
    if rng.random() < 0.25:
        sos = signal.butter(4, [300.0, min(3400.0, 0.45 * rate)], btype="band", fs=rate, output="sos")
        return signal.sosfiltfilt(sos, x).astype(x.dtype), "eq:telephone"
    gains = rng.uniform(-10.0, 10.0, size=3)
    peak_hz = float(np.exp(rng.uniform(np.log(300.0), np.log(min(5000.0, 0.4 * rate)))))
    # forward-backward filtering applies each section twice, so each gets half the gain
    sos = np.concatenate([_biquad("low", 250.0, gains[0] / 2, rate), _biquad("high", min(4000.0, 0.4 * rate),
                                                                           gains[1] / 2, rate),
                          _biquad("peak", peak_hz, gains[2] / 2, rate, q=float(rng.uniform(0.5, 2.0)))])
    y = signal.sosfiltfilt(sos, x)
    return y.astype(x.dtype), "eq:" + ",".join(f"{g:+.0f}" for g in gains) + f"@{peak_hz:.0f}"


def pitch_shift(x: np.ndarray, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, float, str]:
    """Resample by 0.85-1.18 and play at the old rate: pitch and formants up by the factor, time down.

    Returns the samples, the time scale (new time = scale * old time) and a description.
    """
    ratio = Fraction(float(rng.uniform(0.85, 1.18))).limit_denominator(40)
    up, down = ratio.denominator, ratio.numerator  # new length = old * up / down
    y = signal.resample_poly(x, up, down).astype(x.dtype)
    return y, up / down, f"shift:{float(ratio):.3f}"


def _codec_choice(rng: np.random.Generator) -> tuple[str, str, int]:
    """(container, codec, rate) among what the bundled FFmpeg can encode."""
    options = [("adts", "aac", 16000), ("mp3", "libmp3lame", 16000), ("ogg", "libopus", 48000)]
    usable = [o for o in options if o[1] in av.codecs_available]
    return usable[int(rng.integers(len(usable)))]


def _encode_decode(x: np.ndarray, rate: int, container: str, codec: str, bitrate: int) -> np.ndarray:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.bit_rate = bitrate
        stream.layout = "mono"
        pcm = np.clip(x, -1, 1).astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(pcm, format="flt", layout="mono")
        frame.rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    buffer.seek(0)
    chunks = []
    with av.open(buffer, "r") as inp:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        for frame in inp.decode(audio=0):
            for res in resampler.resample(frame):
                chunks.append(res.to_ndarray().reshape(-1))
        for res in resampler.resample(None):
            chunks.append(res.to_ndarray().reshape(-1))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def best_lag(reference: np.ndarray, delayed: np.ndarray, max_lag: int) -> int:
    """Lag (samples, >= -max_lag) at which ``delayed`` best matches ``reference`` by cross-correlation."""
    n = len(reference) + len(delayed)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(delayed, size) * np.conj(np.fft.rfft(reference, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    return int(lags[np.argmax(np.concatenate([corr[: max_lag + 1], corr[-max_lag:]]))])


def align_to(reference: np.ndarray, delayed: np.ndarray, max_lag: int) -> np.ndarray:
    """``delayed`` shifted by its best lag and cut/padded to ``reference``'s length."""
    lag = best_lag(reference, delayed, max_lag)
    shifted = delayed[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag, delayed.dtype), delayed])
    out = np.zeros(len(reference), reference.dtype)
    out[: min(len(out), len(shifted))] = shifted[: len(out)]
    return out


def codec(x: np.ndarray, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Lossy round trip (AAC / MP3 / Opus at 24-64 kbit/s), re-aligned to the input sample for sample."""
    container, name, codec_rate = _codec_choice(rng)
    bitrate = int(rng.choice([24000, 32000, 48000, 64000]))
    src = x if codec_rate == rate else signal.resample_poly(x, codec_rate, rate)
    decoded = _encode_decode(src, codec_rate, container, name, bitrate)
    if codec_rate != rate:
        decoded = signal.resample_poly(decoded, rate, codec_rate)
    y = align_to(x, decoded.astype(x.dtype), max_lag=int(0.1 * rate))
    return y, f"codec:{name}:{bitrate // 1000}k"


def narrowband(x: np.ndarray, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Down to 8 kHz and back (linear-phase polyphase filters keep timing)."""
    if rate <= 8000:
        return x, "8k:skip"
    y = signal.resample_poly(signal.resample_poly(x, 8000, rate), rate, 8000)[: len(x)]
    return np.pad(y, (0, len(x) - len(y))).astype(x.dtype), "8k"


def gain(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Peak-normalise (so nothing clips) and then attenuate by 0-30 dB."""
    db = float(rng.uniform(-30.0, 0.0))
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    scale = 10 ** (db / 20) * (0.99 / peak if peak > 0.99 else 1.0)
    return (x * scale).astype(x.dtype), f"gain:{db:.0f}dB"


Step = Callable[[np.ndarray, int, np.random.Generator], tuple[np.ndarray, str]]
_FILTERS: dict[str, Step] = {"reverb": reverb, "eq": equalise, "codec": codec, "8k": narrowband}


def augment(x: np.ndarray, rate: int, rng: np.random.Generator,
            others: Sequence[np.ndarray] = ()) -> Augmented:
    """A random chain: optional pitch shift, then 1-3 of reverb/EQ/noise/codec/8 kHz, then gain.

    ``others`` are other utterances at ``rate`` for babble noise. Length changes only with the
    pitch shift, whose time scale is returned.
    """
    y = np.asarray(x, dtype=np.float32).copy()
    result = Augmented(y)
    if rng.random() < 0.5:
        result.samples, result.time_scale, step = pitch_shift(result.samples, rate, rng)
        result.steps.append(step)
    names = ["reverb", "eq", "noise", "codec", "8k"]
    chosen = rng.choice(names, size=int(rng.integers(1, 4)), replace=False)
    for name in sorted(chosen, key=names.index):  # room, then channel, then transmission
        if name == "noise":
            result.steps.append(add_noise(result.samples, rate, rng, others))
        else:
            result.samples, step = _FILTERS[name](result.samples, rate, rng)
            result.steps.append(step)
    result.samples, step = gain(result.samples, rng)
    result.steps.append(step)
    return result
