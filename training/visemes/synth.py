"""Speech synthesis with exact phone timings: espeak-ng (through its library) and festival.

A learned front end needs per-hop targets; synthesisers know exactly when each phone starts,
so their output is a corpus with perfect alignment and no licensing strings attached.
espeak-ng reports phoneme events with sample positions only through its C API (the command
line has no timings), so this talks to ``libespeak-ng.so.1`` via ctypes. festival writes a
segment file (end time and name per segment) next to each waveform; one festival process
synthesises a whole batch because its start-up costs more than a short utterance.
"""

from __future__ import annotations

import ctypes as C
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ESPEAK_RATE = 22050


@dataclass
class Synthesis:
    """One synthesised utterance: mono float32 samples in [-1, 1] and its phones in seconds."""

    samples: np.ndarray
    rate: int
    phones: list[tuple[float, float, str]]  # (start, end, engine's phone name)
    text: str
    voice: str = ""


class _EventId(C.Union):
    _fields_ = [("number", C.c_int), ("name", C.c_char_p), ("string", C.c_char * 8)]


class _Event(C.Structure):
    _fields_ = [("type", C.c_int), ("unique_identifier", C.c_uint), ("text_position", C.c_int),
                ("length", C.c_int), ("audio_position", C.c_int), ("sample", C.c_int),
                ("user_data", C.c_void_p), ("id", _EventId)]


_CALLBACK = C.CFUNCTYPE(C.c_int, C.POINTER(C.c_short), C.c_int, C.POINTER(_Event))
_SYNCHRONOUS, _PHONEME_EVENTS = 2, 1
_EV_PHONEME = 7
_RATE, _PITCH, _RANGE = 1, 3, 4


class _Espeak:
    """The process-wide espeak-ng library: initialised once, voice set per utterance."""

    def __init__(self) -> None:
        self.lib = C.CDLL("libespeak-ng.so.1")
        self.rate = self.lib.espeak_Initialize(_SYNCHRONOUS, 200, None, _PHONEME_EVENTS)
        if self.rate <= 0:
            raise RuntimeError("espeak_Initialize failed")
        self.pcm: list[np.ndarray] = []
        self.events: list[tuple[int, str]] = []
        self._keep = _CALLBACK(self._on_audio)  # must outlive every synth call
        self.lib.espeak_SetSynthCallback(self._keep)

    def _on_audio(self, wav, n, ev) -> int:  # type: ignore[no-untyped-def]
        if n > 0:
            self.pcm.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while ev[i].type != 0:
            if ev[i].type == _EV_PHONEME:
                self.events.append((ev[i].sample, ev[i].id.string.decode("utf-8", "replace")))
            i += 1
        return 0

    def synth(self, text: str, voice: str, wpm: int, pitch: int, pitch_range: int) -> Synthesis:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice!r}")
        self.lib.espeak_SetParameter(_RATE, int(wpm), 0)
        self.lib.espeak_SetParameter(_PITCH, int(pitch), 0)
        self.lib.espeak_SetParameter(_RANGE, int(pitch_range), 0)
        self.pcm, self.events = [], []
        data = text.encode()
        self.lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, 1, None, None)  # 1 = espeakCHARS_UTF8
        self.lib.espeak_Synchronize()
        samples = np.concatenate(self.pcm) if self.pcm else np.zeros(0, np.int16)
        duration = len(samples) / self.rate
        # "(en)"-style events mark a language switch, not a phone: the previous phone runs on.
        starts = [(s / self.rate, name) for s, name in self.events if not name.startswith("(")]
        phones = [(t, starts[i + 1][0] if i + 1 < len(starts) else duration, name)
                  for i, (t, name) in enumerate(starts)]
        phones = [(a, b, name) for a, b, name in phones if b > a]
        return Synthesis(samples.astype(np.float32) / 32768.0, self.rate, phones, text, voice)


_ESPEAK: _Espeak | None = None


def espeak(text: str, voice: str = "en-us", wpm: int = 170, pitch: int = 50,
           pitch_range: int = 50) -> Synthesis:
    """Synthesise ``text`` with espeak-ng; ``voice`` may carry a variant (``"en-us+m3"``)."""
    global _ESPEAK
    if _ESPEAK is None:
        _ESPEAK = _Espeak()
    return _ESPEAK.synth(text, voice, wpm, pitch, pitch_range)


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _read_wave(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        rate, n = w.getframerate(), w.getnframes()
        data = np.frombuffer(w.readframes(n), dtype="<i2")
        if w.getnchannels() > 1:
            data = data.reshape(-1, w.getnchannels())[:, 0]
    return data.astype(np.float32) / 32768.0, rate


def _read_segs(path: Path) -> list[tuple[float, float, str]]:
    """festival segment file (after a ``#`` line: ``end_time colour name``) -> phones."""
    phones: list[tuple[float, float, str]] = []
    start, body = 0.0, False
    for line in path.read_text().splitlines():
        if line.strip() == "#":
            body = True
            continue
        parts = line.split()
        if body and len(parts) >= 3:
            end = float(parts[0])
            if end > start:
                phones.append((start, end, parts[2]))
            start = max(start, end)
    return phones


def festival(texts: list[str], voice: str, stretches: list[float] | None = None) -> list[Synthesis]:
    """Synthesise ``texts`` with one festival process using ``voice`` (e.g. ``"kal_diphone"``).

    ``stretches`` optionally slows (> 1) or speeds up (< 1) each utterance.
    """
    with tempfile.TemporaryDirectory(prefix="festival-") as tmp:
        lines = [f"(voice_{voice})"]
        for i, text in enumerate(texts):
            stretch = 1.0 if stretches is None else stretches[i]
            lines += [f"(Parameter.set 'Duration_Stretch {stretch:.3f})",
                      f"(set! u (utt.synth (eval (list 'Utterance 'Text {_scheme_string(text)}))))",
                      f'(utt.save.wave u "{tmp}/{i}.wav" \'riff)', f'(utt.save.segs u "{tmp}/{i}.segs")']
        script = Path(tmp) / "batch.scm"
        script.write_text("\n".join(lines) + "\n", encoding="latin-1", errors="replace")
        subprocess.run(["festival", "-b", str(script)], check=True, capture_output=True, timeout=600)
        out: list[Synthesis] = []
        for i, text in enumerate(texts):
            wav, segs = Path(tmp) / f"{i}.wav", Path(tmp) / f"{i}.segs"
            if wav.exists() and segs.exists():
                samples, rate = _read_wave(wav)
                out.append(Synthesis(samples, rate, _read_segs(segs), text, voice))
        return out
