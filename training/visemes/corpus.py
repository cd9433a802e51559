"""Build the viseme training corpus: synthetic speech -> augmented audio -> per-hop features and labels.

    python -m training.visemes.corpus OUT_DIR [--minutes 60] [--seed 0] [--workers 2]

Synthesisers give phone timings for free, so every 10 ms hop gets an exact viseme label. The
features come from the engine's own streaming featuriser (``hop_features``) on 16 kHz audio,
so the trainer sees exactly what inference will see. Whole voices and languages are held out
(``split == "heldout"``) so the trainer can measure generalisation to an unseen speaker and
unseen languages rather than to unseen sentences.

Output: ``OUT_DIR/corpus.npz`` with ``mel`` (H, 20) float32, ``labels`` (H,) int8 (-1 where a
phone had no mapping), ``utt_start`` (U+1,) offsets into both, per utterance ``voice``, ``lang``,
``split``, ``augmented``, and ``classes`` (the 14 class names, index = label).
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path

import numpy as np
from scipy import signal

from openlipsync.engine.audio_features import hop_features
from training.visemes import augment as aug
from training.visemes.phones import CLASSES, FESTIVAL_PHONESET, SIL, SPLIT, espeak_classes, festival_classes
from training.visemes.synth import Synthesis, espeak, festival
from training.visemes.texts import text_for

RATE = 16000

#: espeak variants used for training; +f4 and +m7 are reserved for the held-out speakers.
TRAIN_VARIANTS: tuple[str, ...] = ("", "+m1", "+m2", "+m3", "+m4", "+m5", "+m6", "+m8", "+f1", "+f2", "+f3",
                                   "+f5", "+klatt", "+klatt2", "+klatt3", "+croak")
HELDOUT_VARIANTS: tuple[str, ...] = ("+f4", "+m7")
OTHER_LANGUAGES: tuple[str, ...] = ("de", "fr", "es", "it", "pl", "cs", "fi", "tr", "id", "sw", "ru", "ja",
                                    "ko", "hi")
HELDOUT_LANGUAGES: tuple[str, ...] = ("pt", "nl")


@dataclass(frozen=True)
class Source:
    """One kind of voice: engine, voice (espeak language or festival voice), variants and share."""

    engine: str  # "espeak" or "festival"
    voice: str  # espeak language ("en-us") or festival voice ("kal_diphone")
    lang: str
    split: str
    share: float  # of the total audio
    variants: tuple[str, ...] = ("",)


def sources() -> list[Source]:
    """The corpus recipe; held-out sources add up to about 15 % of the audio."""
    out = [
        Source("espeak", "en-us", "en-us", "train", 0.23, TRAIN_VARIANTS),
        Source("espeak", "en", "en", "train", 0.07, TRAIN_VARIANTS),
        Source("espeak", "en-us", "en-us", "heldout", 0.03, HELDOUT_VARIANTS),
        Source("festival", "kal_diphone", "en-us", "train", 0.13),
        Source("festival", "lp_diphone", "it", "train", 0.03),
        Source("festival", "pc_diphone", "it", "train", 0.03),
        Source("festival", "ked_diphone", "en-us", "heldout", 0.04),
        Source("festival", "cmu_us_slt_arctic_hts", "en-us", "heldout", 0.04),
    ]
    out += [Source("espeak", lang, lang, "train", 0.36 / len(OTHER_LANGUAGES), TRAIN_VARIANTS)
            for lang in OTHER_LANGUAGES]
    out += [Source("espeak", lang, lang, "heldout", 0.04 / len(HELDOUT_LANGUAGES), TRAIN_VARIANTS)
            for lang in HELDOUT_LANGUAGES]
    return out


@dataclass
class Utterance:
    """Features and labels of one (clean or augmented) utterance."""

    mel: np.ndarray  # (H, 20) float32
    labels: np.ndarray  # (H,) int8
    voice: str
    lang: str
    split: str
    augmented: bool
    seconds: float


@dataclass
class TaskResult:
    utterances: list[Utterance] = field(default_factory=list)
    unmapped: collections.Counter = field(default_factory=collections.Counter)


Segment = tuple[float, float, int]  # start s, end s, class (-1 = unmapped)


def segments(synth: Synthesis, source: Source, unmapped: collections.Counter) -> list[Segment]:
    """Phones -> class segments; two-class phones split at SPLIT of their length."""
    out: list[Segment] = []
    for start, end, name in synth.phones:
        if source.engine == "espeak":
            classes = espeak_classes(name, source.voice)
        else:
            classes = festival_classes(name, FESTIVAL_PHONESET[source.voice])
        if classes is None:
            unmapped[f"{source.engine}:{source.lang}:{name}"] += 1
            out.append((start, end, -1))
        elif len(classes) == 1:
            out.append((start, end, classes[0]))
        else:
            mid = start + SPLIT * (end - start)
            out += [(start, mid, classes[0]), (mid, end, classes[1])]
    return out


def hop_labels(segs: list[Segment], n_hops: int, hop: float, time_scale: float = 1.0) -> np.ndarray:
    """Class of the segment covering each hop centre ``k * hop`` (times scaled); SIL outside all."""
    labels = np.full(n_hops, SIL, dtype=np.int8)
    if not segs:
        return labels
    starts = np.array([s for s, _, _ in segs]) * time_scale
    ends = np.array([e for _, e, _ in segs]) * time_scale
    classes = np.array([c for _, _, c in segs], dtype=np.int8)
    t = np.arange(n_hops) * hop
    idx = np.searchsorted(starts, t, side="right") - 1
    inside = (idx >= 0) & (t < ends[np.clip(idx, 0, None)])
    labels[inside] = classes[idx[inside]]
    return labels


def to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    if rate == RATE:
        return samples.astype(np.float32)
    g = gcd(RATE, rate)
    return signal.resample_poly(samples, RATE // g, rate // g).astype(np.float32)


def featurise(samples: np.ndarray, segs: list[Segment], time_scale: float) -> tuple[np.ndarray, np.ndarray]:
    hops = hop_features([np.clip(samples, -1.0, 1.0)], RATE)
    mel = hops.mel.astype(np.float32)
    return mel, hop_labels(segs, len(mel), hops.hop, time_scale)


def _pad(synth: Synthesis, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """16 kHz samples with 0.05-0.4 s of silence added at each end, and the start offset."""
    x = to_16k(synth.samples, synth.rate)
    lead, tail = (int(rng.uniform(0.05, 0.4) * RATE) for _ in range(2))
    return np.concatenate([np.zeros(lead, np.float32), x, np.zeros(tail, np.float32)]), lead / RATE


def _synthesise(source: Source, rng: np.random.Generator, seconds_left: float) -> Iterator[Synthesis]:
    if source.engine == "espeak":
        variant = str(rng.choice(source.variants))
        yield espeak(text_for(source.lang, rng), source.voice + variant, wpm=int(rng.integers(130, 231)),
                     pitch=int(rng.integers(15, 86)), pitch_range=int(rng.integers(10, 91)))
        return
    # festival: one process per batch; ~12 characters per second of speech
    texts, est = [], 0.0
    while est < min(seconds_left, 120.0) or not texts:
        texts.append(text_for(source.lang, rng))
        est += len(texts[-1]) / 12.0
    yield from festival(texts, source.voice, [float(rng.uniform(0.8, 1.25)) for _ in texts])


def run_task(task: tuple[Source, float, int]) -> TaskResult:
    """Synthesise ``seconds`` of clean audio from ``source``, each with 1-2 augmented copies."""
    source, seconds, seed = task
    rng = np.random.default_rng(seed)
    result = TaskResult()
    pool: collections.deque[np.ndarray] = collections.deque(maxlen=8)  # for babble
    done = 0.0
    while done < seconds:
        for synth in _synthesise(source, rng, seconds - done):
            if len(synth.samples) == 0:
                continue
            voice = f"{source.engine}:{synth.voice}"
            segs = segments(synth, source, result.unmapped)
            x, offset = _pad(synth, rng)
            segs = [(s + offset, e + offset, c) for s, e, c in segs]
            mel, labels = featurise(x, segs, 1.0)
            meta = {"voice": voice, "lang": source.lang, "split": source.split}
            result.utterances.append(Utterance(mel, labels, augmented=False, seconds=len(x) / RATE, **meta))
            for _ in range(int(rng.integers(1, 3))):
                a = aug.augment(x, RATE, rng, others=list(pool))
                mel, labels = featurise(a.samples, segs, a.time_scale)
                result.utterances.append(Utterance(mel, labels, augmented=True, seconds=len(a.samples) / RATE,
                                                   **meta))
            pool.append(x)
            done += len(x) / RATE
    return result


def plan(minutes: float, seed: int, chunk_seconds: float = 45.0) -> list[tuple[Source, float, int]]:
    """Split each source's clean-audio quota into tasks of about ``chunk_seconds``.

    Each clean utterance comes with 1.5 augmented copies on average, so the clean quota is
    ``minutes / 2.5`` and the total (clean + augmented) is about ``minutes``.
    """
    clean = minutes * 60.0 / 2.5
    tasks = []
    for i, source in enumerate(sources()):
        quota = clean * source.share
        n = max(1, round(quota / chunk_seconds))
        tasks += [(source, quota / n, seed * 100_003 + i * 1_009 + k) for k in range(n)]
    return tasks


def build(out_dir: Path, minutes: float = 60.0, seed: int = 0, workers: int = 2) -> dict[str, object]:
    """Generate the corpus into ``out_dir/corpus.npz``; returns the arrays written plus ``unmapped``."""
    tasks = plan(minutes, seed)
    tasks.sort(key=lambda t: t[0].voice == "cmu_us_slt_arctic_hts", reverse=True)  # slowest first
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers) as p:
            results = p.map(run_task, tasks, chunksize=1)
    else:
        results = [run_task(t) for t in tasks]
    utts = [u for r in results for u in r.utterances]
    unmapped: collections.Counter = sum((r.unmapped for r in results), collections.Counter())
    lengths = np.array([len(u.labels) for u in utts], dtype=np.int64)
    data: dict[str, object] = {
        "mel": np.concatenate([u.mel for u in utts]).astype(np.float32),
        "labels": np.concatenate([u.labels for u in utts]).astype(np.int8),
        "utt_start": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        "voice": np.array([u.voice for u in utts]),
        "lang": np.array([u.lang for u in utts]),
        "split": np.array([u.split for u in utts]),
        "augmented": np.array([u.augmented for u in utts], dtype=bool),
        "classes": np.array(CLASSES),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_dir / "corpus.npz", **data)
    data["unmapped"] = unmapped
    return data


def summary(data: dict[str, object]) -> str:
    """Minutes per engine/language/split, label counts per class, unmapped phones."""
    starts = np.asarray(data["utt_start"])
    minutes = np.diff(starts) * 0.01 / 60.0
    labels = np.asarray(data["labels"])
    rows: dict[tuple[str, str, str], list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0])
    for voice, lang, split, augmented, m in zip(data["voice"], data["lang"], data["split"], data["augmented"],
                                                minutes, strict=True):
        base = str(voice).split("+")[0] if str(voice).startswith("espeak") else str(voice)
        row = rows[(base, str(lang), str(split))]
        row[1 if augmented else 0] += float(m)
        row[2] += 1
    lines = [f"{'voice':32} {'lang':6} {'split':8} {'clean min':>9} {'aug min':>8} {'utts':>6}"]
    for (voice, lang, split), (clean, augmented, n) in sorted(rows.items(), key=lambda kv: (kv[0][2], kv[0])):
        lines.append(f"{voice:32} {lang:6} {split:8} {clean:9.2f} {augmented:8.2f} {n:6d}")
    split = np.asarray(data["split"])
    for name in ("train", "heldout"):
        lines.append(f"{name}: {minutes[split == name].sum():.1f} min")
    lines.append(f"total: {minutes.sum():.1f} min, {len(minutes)} utterances, {len(labels)} hops")
    counts = np.bincount(labels[labels >= 0].astype(np.int64), minlength=len(CLASSES))
    lines.append("labels: " + ", ".join(f"{c}={n}" for c, n in zip(CLASSES, counts, strict=True))
                 + f", unmapped={int(np.sum(labels < 0))}")
    unmapped = data.get("unmapped") or collections.Counter()
    listed = ", ".join(f"{k} x{n}" for k, n in unmapped.most_common(30))
    lines.append("unmapped phones: " + (listed or "none"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--minutes", type=float, default=60.0, help="total audio, clean + augmented")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    data = build(args.out_dir, args.minutes, args.seed, args.workers)
    print(summary(data))
    print(f"wrote {args.out_dir / 'corpus.npz'} in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
