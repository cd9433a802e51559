"""Random texts to synthesise: English sentences and pseudo-words for other languages.

The front end must learn mouth shapes, not words, so the texts only need to cover each
language's sounds in natural-ish contexts. English samples real words from festival's CMU
lexicon (short, common-looking words weighted up); other languages get pseudo-words built from
syllable templates in their own orthography, so espeak's letter-to-sound rules produce that
language's phones. Commas and full stops between phrases give the pauses real speech has.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

CMU_LEXICON = Path("/usr/share/festival/dicts/cmu/cmudict-0.4.out")

#: Phonetically rich sentences (Harvard-style), mixed in with the random English ones.
RICH_SENTENCES: tuple[str, ...] = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
    "The small pup gnawed a hole in the sock.",
    "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.",
    "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.",
    "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.",
    "The colt reared and threw the tall rider.",
    "It snowed, rained, and hailed the same morning.",
    "Read verse out loud for pleasure.",
    "Hoist the load to your left shoulder.",
    "Bob bought a big map, then paid the bill.",
    "Which thick fudge should Judy choose?",
    "Vivid voices of five wives filled the valley.",
    "Oh, you know, I owe Joy a toy boat now.",
    "Mimi may buy plum jam, maybe.",
    "Thirty thin thieves thought that they were there.",
)

_ENGLISH_WORD = re.compile(r'^\("([a-z]+)" ')


@functools.lru_cache(maxsize=1)
def _english_words() -> tuple[tuple[str, ...], np.ndarray]:
    """CMU lexicon words and sampling weights favouring short, common-looking words."""
    words: list[str] = []
    for line in CMU_LEXICON.read_text(encoding="latin-1").splitlines():
        match = _ENGLISH_WORD.match(line)
        if match and (not words or words[-1] != match.group(1)):
            words.append(match.group(1))
    lengths = np.array([len(w) for w in words], dtype=float)
    weights = 1.0 / lengths**2
    weights[lengths == 1] *= 0.05  # single letters are mostly spelled out
    return tuple(words), weights / weights.sum()


def _punctuate(phrases: list[str], rng: np.random.Generator) -> str:
    """Join phrases with commas and full stops, capitalising sentence starts."""
    out: list[str] = []
    sentence_start = True
    for i, phrase in enumerate(phrases):
        out.append(phrase[:1].upper() + phrase[1:] if sentence_start else phrase)
        last = i == len(phrases) - 1
        mark = "." if last or rng.random() < 0.4 else ","
        sentence_start = mark == "."
        out.append(mark + ("" if last else " "))
    return "".join(out)


def english_text(rng: np.random.Generator) -> str:
    """A rich sentence (one time in five) or 4-12 random lexicon words in 1-3 phrases."""
    if rng.random() < 0.2:
        return str(rng.choice(RICH_SENTENCES))
    words, weights = _english_words()
    n = int(rng.integers(4, 13))
    picked = [words[i] for i in rng.choice(len(words), size=n, p=weights)]
    cuts = sorted(rng.choice(np.arange(1, n), size=int(rng.integers(0, min(3, n - 1))), replace=False))
    phrases = [" ".join(part) for part in np.split(np.array(picked, dtype=object), cuts) if len(part)]
    return _punctuate(phrases, rng)


# Per-language syllable parts in the language's own spelling: (onsets, nuclei, codas).
Parts = tuple[list[str], list[str], list[str]]


def _parts(onsets: str, nuclei: str, codas: str) -> Parts:
    return onsets.split(), nuclei.split(), codas.split() or [""]


_LATIN: dict[str, Parts] = {
    "de": _parts("b p m f w t d n l s sch ch k g h r z pf st sp br tr kl fl j",
                 "a e i o u ä ö ü ei au eu ie ah oh", "n m l r s t ch ng st ck cht"),
    "fr": _parts("b p m f v t d n l s z ch j k g r gn pl tr br fl",
                 "a e i o u é è ou oi au eu an on in un ai", "r l s t m"),
    "es": _parts("b p m f v t d n l s z ch j k g r rr ñ ll pl tr br c", "a e i o u ue ie ai ei", "n s l r d"),
    "it": _parts("b p m f v t d n l s z c g r gn gl ch gh sc tr pr", "a e i o u ia io uo", "n l r s"),
    "pt": _parts("b p m f v t d n l s z ch j c g r lh nh tr pr", "a e i o u ã õ ão ei ou é ó", "s r l m"),
    "nl": _parts("b p m f v w t d n l s z sch g k h r j tr kl",
                 "a e i o u aa ee oo uu ie oe eu ui ij ou", "n l r s t k ng cht"),
    "pl": _parts("b p m f w t d n l ł s z sz cz ż rz ch k g r dz ś ć", "a e i o u y ą ę ó", "n m ł s k j ść"),
    "cs": _parts("b p m f v t d n l s z š č ž ř ch k h g r ď ť ň", "a e i o u y á é í ú ů ou", "n m l s k j"),
    "fi": _parts("p m v t d n l s k h r j", "a e i o u y ä ö aa ee ii uu ai ei oi äy", "n s t l r"),
    "tr": _parts("b p m f v t d n l s z ş ç c k g ğ h r y", "a e i ı o ö u ü", "n m l r s k t"),
    "id": _parts("b p m f t d n l s k g h r c j ng ny w y", "a e i o u ai au", "n ng m k t s r"),
    "sw": _parts("b p m f v t d n l s z ch j k g h r w y mb nd ng ny sh th", "a e i o u", ""),
}

_RU = _parts("б п м ф в т д н л с з ш ж щ ч ц к г х р й", "а е и о у ы э ю я ё", "н м л р с т й")
_KANA = [chr(c) for c in range(0x3042, 0x3094) if chr(c) not in "ぁぃぅぇぉっゃゅょゎゐゑ"]
_DEVANAGARI_CONSONANTS = [chr(c) for c in range(0x0915, 0x093A)]
_DEVANAGARI_MATRAS = ["", "\u093e", "\u093f", "\u0940", "\u0941", "\u0942", "\u0947", "\u0948", "\u094b",
                      "\u094c"]


def _syllable(lang: str, rng: np.random.Generator) -> str:
    if lang == "ja":
        return str(rng.choice(_KANA))
    if lang == "ko":  # compose a Hangul syllable from jamo indices, mostly open syllables
        tail = int(rng.integers(1, 28)) if rng.random() < 0.3 else 0
        return chr(0xAC00 + (int(rng.integers(19)) * 21 + int(rng.integers(21))) * 28 + tail)
    if lang == "hi":
        return str(rng.choice(_DEVANAGARI_CONSONANTS)) + str(rng.choice(_DEVANAGARI_MATRAS))
    onsets, nuclei, codas = _RU if lang == "ru" else _LATIN[lang]
    onset = str(rng.choice(onsets)) if rng.random() < 0.85 else ""
    coda = str(rng.choice(codas)) if rng.random() < 0.3 else ""
    return onset + str(rng.choice(nuclei)) + coda


def pseudo_text(lang: str, rng: np.random.Generator) -> str:
    """3-10 pseudo-words of 1-3 syllables (2-4 for syllabaries) in 1-3 phrases."""
    extra = 1 if lang in ("ja", "ko", "hi") else 0
    words = ["".join(_syllable(lang, rng) for _ in range(int(rng.integers(1 + extra, 4 + extra))))
             for _ in range(int(rng.integers(3, 11)))]
    n_phrases = int(rng.integers(1, 4))
    cuts = np.linspace(0, len(words), n_phrases + 1).astype(int)
    phrases = [" ".join(words[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]
    text = _punctuate(phrases, rng)
    return text.replace(".", "。").replace(",", "、") if lang == "ja" else text


ESPEAK_LANGUAGES: tuple[str, ...] = tuple(_LATIN) + ("ru", "ja", "ko", "hi")


def text_for(lang: str, rng: np.random.Generator) -> str:
    """A random utterance text for ``lang`` (``en*`` -> English words, else pseudo-words)."""
    return english_text(rng) if lang.startswith("en") else pseudo_text(lang, rng)
