"""The viseme training corpus: phone mapping coverage, exact label timing, timing-safe augmentation."""

from __future__ import annotations

import collections
import shutil

import numpy as np
import pytest

from training.visemes import augment as aug
from training.visemes.corpus import Source, featurise, hop_labels, run_task, segments, summary, to_16k
from training.visemes.phones import (
    AA,
    ALV,
    CLASSES,
    FV,
    IY,
    KGH,
    PBM,
    SCHWA,
    SH,
    SIL,
    SPLIT,
    W_UW,
    O,
    R,
    espeak_classes,
    festival_classes,
)
from training.visemes.synth import Synthesis, espeak


def _installed(command: str) -> None:
    if shutil.which(command) is None:
        pytest.fail(f"{command} is missing: scripts/system-deps.sh installs it (make test runs it)")


@pytest.fixture
def espeak_ng_installed() -> None:
    _installed("espeak-ng")


@pytest.fixture
def festival_installed() -> None:
    _installed("festival")


needs_espeak = pytest.mark.usefixtures("espeak_ng_installed")
needs_festival = pytest.mark.usefixtures("festival_installed")

SENTENCES = {
    "en-us": "Bob bought a big map. Which thick fudge should Judy choose? Her bird saw four boys, now.",
    "de": "Schöne Bücher über Röhren, pfeifen Sie! Ich lache auch heute noch.",
    "fr": "Le grand chien brun mange un pain rouge. Une fille heureuse.",
    "es": "El perro rojo come churros, y la jirafa llega mañana.",
}


def test_classes_are_the_contract() -> None:
    assert CLASSES[0] == "SIL" and CLASSES[1] == "PBM" and CLASSES[13] == "SCHWA" and len(CLASSES) == 14


@needs_espeak
@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_mapping_covers_every_espeak_phone(lang: str) -> None:
    synth = espeak(SENTENCES[lang], lang)
    names = [name for _, _, name in synth.phones]
    assert len(names) > 20
    unmapped = sorted({n for n in names if espeak_classes(n, lang) is None})
    assert unmapped == []
    classes = {c for n in names for c in espeak_classes(n, lang)}
    assert {SIL, PBM, ALV, KGH}.issubset(classes)


@needs_espeak
def test_espeak_timings_cover_the_audio() -> None:
    synth = espeak(SENTENCES["en-us"], "en-us+m3", wpm=200, pitch=70)
    starts = np.array([s for s, _, _ in synth.phones])
    ends = np.array([e for _, e, _ in synth.phones])
    assert np.all(np.diff(starts) > 0) and np.allclose(starts[1:], ends[:-1])
    assert ends[-1] == pytest.approx(len(synth.samples) / synth.rate, abs=1e-6)
    assert synth.voice == "en-us+m3"


def test_bilabials_and_labiodentals() -> None:
    for name in ("p", "b", "m", "'m", "m-"):
        assert espeak_classes(name, "en-us") == (PBM,), name
    for name in ("p", "b", "m", "em"):
        assert festival_classes(name) == (PBM,)
    assert festival_classes("p", "italian") == (PBM,)
    assert espeak_classes("f", "de") == (FV,) and festival_classes("v") == (FV,)


def test_diphthongs_split_and_language_specific_r() -> None:
    assert espeak_classes("aI", "en-us") == (AA, IY)
    assert espeak_classes("'aU", "de") == (AA, W_UW)
    assert espeak_classes("oU", "en-us") == espeak_classes("@U", "en") == (O, W_UW)
    assert espeak_classes("OI", "en") == (O, IY) and espeak_classes("eI", "en-us")[1] == IY
    assert festival_classes("ay") == (AA, IY) and festival_classes("ow") == (O, W_UW)
    assert festival_classes("oy") == (O, IY) and festival_classes("aw") == (AA, W_UW)
    assert espeak_classes("r", "en-us") == (R,) and espeak_classes("r", "fr") == (KGH,)
    assert espeak_classes("r", "es") == (ALV,) and espeak_classes("3:", "en-us") == (R,)
    assert espeak_classes("3:", "de") == (SCHWA,) and espeak_classes("V", "en") == (SCHWA,)
    assert espeak_classes("tS", "en-us") == (SH,) and espeak_classes("_:", "fr") == (SIL,)
    assert espeak_classes("zz9", "en-us") is None and festival_classes("qq") is None


def test_two_class_phone_splits_in_time() -> None:
    source = Source("festival", "kal_diphone", "en-us", "train", 1.0)
    phones = [(0.0, 0.2, "pau"), (0.2, 0.6, "ay"), (0.6, 0.7, "qq")]
    synth = Synthesis(np.zeros(16000, np.float32), 16000, phones, "")
    unmapped: collections.Counter = collections.Counter()
    segs = segments(synth, source, unmapped)
    assert segs == [(0.0, 0.2, SIL), (0.2, pytest.approx(0.2 + SPLIT * 0.4), AA),
                    (pytest.approx(0.2 + SPLIT * 0.4), 0.6, IY), (0.6, 0.7, -1)]
    assert unmapped == {"festival:en-us:qq": 1}
    labels = hop_labels(segs, 100, 0.01)
    assert labels[10] == SIL and labels[25] == AA and labels[50] == IY and labels[65] == -1
    assert labels[80] == SIL  # after the last phone
    halved = hop_labels(segs, 100, 0.01, time_scale=0.5)
    assert halved[12] == AA and halved[25] == IY and halved[40] == SIL


@needs_espeak
@needs_festival
@pytest.mark.parametrize(("engine", "voice", "lang"),
                         [("espeak", "de", "de"), ("festival", "kal_diphone", "en-us")])
def test_tiny_corpus_labels_align_with_features(engine: str, voice: str, lang: str) -> None:
    source = Source(engine, voice, lang, "train", 1.0, ("", "+m3"))
    result = run_task((source, 4.0, 7))
    clean = [u for u in result.utterances if not u.augmented]
    assert clean and len(result.utterances) >= 2 * len(clean)
    assert not result.unmapped
    for u in result.utterances:
        assert u.mel.shape == (len(u.labels), 20) and u.mel.dtype == np.float32
        assert len(u.labels) == pytest.approx(u.seconds * 100, abs=2)
        assert u.labels.min() >= 0 and u.labels.max() < len(CLASSES)
        assert u.labels[0] == SIL and u.labels[-1] == SIL
        assert len(set(u.labels.tolist())) >= 5
    for u in clean:  # clean audio: silence is silent and speech is loud where the labels say
        energy = np.log10(u.mel.sum(axis=1) + 1e-12)
        speech = energy[(u.labels != SIL) & (u.labels != PBM)]
        assert np.median(speech) > np.median(energy[u.labels == SIL]) + 2
        vowels = energy[np.isin(u.labels, [AA, O, IY])]
        assert np.median(vowels) > np.median(energy[u.labels == PBM])


@needs_espeak
def test_summary_mentions_every_class() -> None:
    source = Source("espeak", "en-us", "en-us", "train", 1.0)
    result = run_task((source, 2.0, 1))
    utts = result.utterances
    lengths = np.array([len(u.labels) for u in utts])
    data = {"labels": np.concatenate([u.labels for u in utts]),
            "utt_start": np.concatenate([[0], np.cumsum(lengths)]),
            "voice": np.array([u.voice for u in utts]), "lang": np.array([u.lang for u in utts]),
            "split": np.array([u.split for u in utts]), "augmented": np.array([u.augmented for u in utts])}
    text = summary(data)
    assert all(c + "=" in text for c in CLASSES) and "espeak:en-us" in text


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    if shutil.which("espeak-ng") is None:
        rng = np.random.default_rng(0)
        return (rng.standard_normal(24000) * np.repeat(rng.random(30) > 0.5, 800)).astype(np.float32) * 0.1
    synth = espeak("Bob bought a big map, then paid the bill.", "en-us")
    return to_16k(synth.samples, synth.rate)


@pytest.mark.parametrize("step", [aug.reverb, aug.equalise, aug.codec, aug.narrowband])
def test_filters_keep_length_and_timing(step, speech: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    for seed in range(3):
        y, description = step(speech, 16000, np.random.default_rng(seed))
        assert len(y) == len(speech) and y.dtype == np.float32, description
        assert aug.best_lag(speech, y, 800) == 0, description


def test_codec_round_trip_is_realigned(speech: np.ndarray) -> None:
    seen = set()
    for seed in range(12):
        y, description = aug.codec(speech, 16000, np.random.default_rng(seed))
        seen.add(description.split(":")[1])
        assert aug.best_lag(speech, y, 2000) == 0, description
        assert np.corrcoef(speech, y)[0, 1] > 0.6, description
    assert len(seen) >= 2


def test_pitch_shift_scales_time(speech: np.ndarray) -> None:
    y, scale, _ = aug.pitch_shift(speech, 16000, np.random.default_rng(3))
    assert scale != 1.0 and 0.84 < scale < 1.18
    assert len(y) == pytest.approx(len(speech) * scale, abs=2)
    # the loudest 10 ms of the input moves to scale * its time
    frames = np.abs(speech[: len(speech) // 160 * 160]).reshape(-1, 160).sum(axis=1)
    peak = int(np.argmax(frames))
    shifted = np.abs(y[: len(y) // 160 * 160]).reshape(-1, 160).sum(axis=1)
    assert abs(int(np.argmax(shifted)) - peak * scale) <= 2


def test_noise_snr_and_gain(speech: np.ndarray) -> None:
    rng = np.random.default_rng(5)
    noisy = speech.copy()
    description = aug.add_noise(noisy, 16000, rng, others=[speech])
    snr_db = float(description.split(":")[2].rstrip("dB"))
    measured = 10 * np.log10(np.mean(speech**2) / np.mean((noisy - speech) ** 2))
    assert abs(measured - snr_db) < 1.0
    quiet, _ = aug.gain(noisy, rng)
    assert np.max(np.abs(quiet)) <= 0.99 + 1e-6


def test_augment_chain_is_seeded_and_consistent(speech: np.ndarray) -> None:
    for seed in range(8):
        a = aug.augment(speech, 16000, np.random.default_rng(seed), others=[speech])
        b = aug.augment(speech, 16000, np.random.default_rng(seed), others=[speech])
        assert a.steps == b.steps and np.array_equal(a.samples, b.samples)
        assert len(a.samples) == pytest.approx(len(speech) * a.time_scale, abs=2)
        assert np.all(np.isfinite(a.samples)) and np.max(np.abs(a.samples)) <= 1.0
        if a.time_scale == 1.0:
            assert aug.best_lag(speech, a.samples, 800) == 0, a.steps


def test_featurise_labels_match_hops(speech: np.ndarray) -> None:
    segs = [(0.0, 0.5, SIL), (0.5, 1.0, AA), (1.0, 1.2, O)]
    mel, labels = featurise(speech, segs, 1.0)
    assert mel.shape == (len(labels), 20) and labels[55] == AA and labels[105] == O and labels[-1] == SIL
