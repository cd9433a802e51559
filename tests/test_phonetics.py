"""The phonetic front end against espeak-ng speech whose phoneme times are known exactly.

What a viewer checks on a talking face: lips close on /p b m/, the jaw opens on open vowels and
not on a loud /s/, lips round on /u w/ and spread on /i/, the lower lip goes up to the teeth on
/f v/, the teeth stay nearly together on /s z t d/. Each is asked at the middle of every such
phoneme, read from the frame that shows it (the mouth leads the sound by ``LEAD``).
"""

from __future__ import annotations

import numpy as np
import pytest

from openlipsync.engine.phonetics import MODEL_PATH, VisemeModel, load_model
from openlipsync.engine.speech import MouthTargets, analyse_speech
from openlipsync.engine.visemes import ARTICULATORS, CLASSES, articulation
from tests.test_speech import LEAD, Speech, _at, _frames, _synth

ROUNDED = {"u:", "U", "w", "u"}
SPREAD = {"i:", "i", "I"}
LABIODENTAL = {"f", "v"}
ALVEOLAR = {"s", "z", "t", "d"}
OPEN_VOWEL = {"a", "aa", "A:", "aI", "aU", "0", "O:"}
BILABIAL = {"p", "b", "m"}
TEXTS = {
    "round_spread": "We see three sheep. You knew who moved the blue spoon. Keep it, Eve, see me eat.",
    "labiodental": "Five fine vans of fresh fish. Very vivid velvet, full of fluff.",
    "alveolar": "Sit down, said Ted. Sixty seats sat still, sizzling, dozens of tides.",
    "bilabial": "Bob bought a big map. Papa might buy more. Mop the bumpy bamboo.",
    "open": "Father calls the large dog. Hot pots top a bottle. Paul saw a tall hall.",
}


@pytest.fixture(scope="module")
def heard(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Speech, np.ndarray, MouthTargets]]:
    out = {}
    for name, text in TEXTS.items():
        speech = _synth(text, tmp_path_factory.mktemp(name))
        times = _frames(speech.duration)
        out[name] = (speech, times, analyse_speech(speech.chunks(), speech.rate, times, lead=LEAD))
    return out


def _column(name: str) -> int:
    return ARTICULATORS.index(name)


def _values(heard, text: str, phones: set[str], pick) -> np.ndarray:
    speech, times, targets = heard[text]
    mids = speech.midpoints(phones)
    assert len(mids) >= 4, f"{text!r} has too few of {sorted(phones)}: {len(mids)}"
    return pick(targets)[_at(times, mids)]


def test_the_shipped_model_loads_and_gives_probabilities() -> None:
    assert MODEL_PATH.is_file() and MODEL_PATH.stat().st_size < 10 * 2**20
    model = load_model()
    mel = np.random.default_rng(0).random((300, 20)) * 1e-3
    p = model.posteriors(mel)
    assert p.shape == (300, len(CLASSES)) and np.all(p >= 0)
    assert np.allclose(p.sum(axis=1), 1.0, atol=1e-5)
    assert VisemeModel.load(MODEL_PATH).context.tolist() == model.context.tolist()


def test_lips_close_on_p_b_m(heard) -> None:
    closed = _values(heard, "bilabial", BILABIAL, lambda t: t.closed | (t.open < 0.1))
    assert closed.mean() >= 0.8, f"lips closed on {closed.mean():.0%} of /p b m/"


def test_open_vowels_open_and_close_consonants_do_not(heard) -> None:
    vowels = _values(heard, "open", OPEN_VOWEL, lambda t: t.open)
    alveolar = _values(heard, "alveolar", ALVEOLAR, lambda t: t.open)
    assert np.median(vowels) > 0.45
    assert np.median(vowels) > np.median(alveolar) + 0.25


def test_rounded_vowels_are_narrower_than_spread_ones_in_nine_pairs_of_ten(heard) -> None:
    rounded = _values(heard, "round_spread", ROUNDED, lambda t: t.width)
    spread = _values(heard, "round_spread", SPREAD, lambda t: t.width)
    pairs = rounded[:, None] < spread[None, :]
    assert pairs.mean() >= 0.9, f"rounded narrower than spread in {pairs.mean():.0%} of pairs"


def test_f_and_v_bring_the_lower_lip_to_the_teeth(heard) -> None:
    lip = _values(heard, "labiodental", LABIODENTAL, lambda t: t.articulation[:, _column("labiodental")])
    vowels = _values(heard, "open", OPEN_VOWEL, lambda t: t.articulation[:, _column("labiodental")])
    assert np.median(lip) > 0.5, f"median lower-lip-to-teeth on /f v/: {np.median(lip):.2f}"
    assert (lip > 0.3).mean() >= 0.75
    assert np.median(vowels) < 0.2


def test_s_z_t_d_keep_the_teeth_nearly_together(heard) -> None:
    opening = _values(heard, "alveolar", ALVEOLAR, lambda t: t.open)
    teeth = _values(heard, "alveolar", ALVEOLAR, lambda t: t.articulation[:, _column("teeth")])
    assert np.median(opening) < 0.3 and (opening < 0.4).mean() >= 0.8
    assert np.median(teeth) > 0.5


def test_coarticulation_lets_a_dominant_closure_win_between_vowels() -> None:
    hop = 0.01
    posteriors = np.zeros((60, len(CLASSES)))
    posteriors[:, CLASSES.index("AA")] = 1.0
    posteriors[27:33] = 0.0
    posteriors[27:33, CLASSES.index("PBM")] = 1.0
    art = articulation(posteriors, hop)
    assert art[30, _column("closure")] > 0.6
    assert art[5, _column("open")] > 0.95  # far from the /m/ the vowel is untouched
    assert art[30, _column("open")] < art[5, _column("open")] - 0.3  # the jaw rises for it
    with pytest.raises(ValueError, match="posteriors"):
        articulation(np.zeros((5, 3)), hop)
