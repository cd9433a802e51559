"""Phone -> viseme class, for espeak-ng mnemonics (many languages) and festival phone sets.

The learned front end predicts what the mouth looks like, not which phone was said, so every
synthesiser's phone names collapse onto 14 visual classes. A diphthong or affricate moves the
mouth between two shapes, so it maps to two classes split in time: the first
:data:`SPLIT` of the phone to the first, the rest to the second. Unknown names give ``None``
so the corpus builder can count them instead of guessing.

espeak-ng mnemonics are mostly shared across languages but a few letters mean different sounds
per language (``r`` is English ɹ, French/German ʁ, Spanish r; ``&`` is Finnish æ but Portuguese
ɐ; ``y`` is ü in German but ɨ in Russian), so those have per-language overrides.
"""

from __future__ import annotations

CLASSES: tuple[str, ...] = ("SIL", "PBM", "FV", "TH", "ALV", "SH", "KGH", "R", "W_UW", "O", "AA", "E", "IY",
                            "SCHWA")
SIL, PBM, FV, TH, ALV, SH, KGH, R, W_UW, O, AA, E, IY, SCHWA = range(len(CLASSES))  # noqa: E741

#: Share of a two-class phone (diphthong, affricate) given to its first element.
SPLIT = 0.55

Classes = tuple[int, ...]  # one class, or two split in time at SPLIT


def _table(spec: dict[int | Classes, str]) -> dict[str, Classes]:
    """Expand ``{class or classes: "name name ..."}`` into ``{name: classes}``."""
    out: dict[str, Classes] = {}
    for classes, names in spec.items():
        for name in names.split():
            out[name] = classes if isinstance(classes, tuple) else (classes,)
    return out


# espeak-ng mnemonics after stress marks are stripped; ':' (length) is tried with and without.
_ESPEAK = _table({
    PBM: "p b m m- m; p# b# b; p; p- ph B p\\",
    FV: "f v v# f; v; F",
    TH: "T D",
    ALV: "t d n l s z t# d# t. d. t.# d.# n. l. n- n_ n^ l^ L * ** r R R2 R^ r- ts dz ts2 dz2 ss z2 "
         "t; d; s; z; n; l; t- d- s- th c J r` t_s l# L^ R3 d#. s2 t2 d2 n2 l2 r2",
    SH: "S Z tS dZ S; Z; tS; dZ; ts; dz; tS;- s\\ z\\ t_s\\ d_z\\ s. s# C; tS# dZ#",
    KGH: "k g N N\\ h H x Q q q- k- kh k# g# k; g; x; ? ! G h#",
    W_UW: "u U u\" u# u- u~ w w2 w; y y# U2 u2 u3 V\" U: ju:",
    O: "o O 0 Y W 8 o~ O~ W~ Y~ O2 o- Y2 o#",
    AA: "a A a# a- a2 A~ & &~ aa A# a. a:",
    E: "e E E2 E# E~ e~ e# E3 e2",
    IY: "i I I# I2 i# I3 i2 j ; i~ I~ y; J2",
    SCHWA: "@ @- @2 @5 @3 V 3 @#",
    (SCHWA, ALV): "@L",
    (AA, IY): "aI ai aI@ aI3 aj &I &i",
    (AA, W_UW): "aU au aU@ &U~ &U VU &y",
    (O, IY): "OI oI OY oi Oj OI2 Yi",
    (W_UW, IY): "uI ui",
    (W_UW, O): "yY",
    (O, SCHWA): "o@",
    (O, W_UW): "oU @U Yy Wy ou",
    (E, IY): "eI ei EI Ej ej",
    (E, W_UW): "eU EU eu",
    (IY, AA): "ja ia",
    (IY, W_UW): "ju iu iU",
    (IY, SCHWA): "i@ I@",
    (W_UW, SCHWA): "U@ UR u@",
    (E, SCHWA): "e@",
    (PBM, FV): "pF",
})

# English: the approximant r and r-coloured vowels get their own class.
_ESPEAK_EN: dict[str, Classes] = _table({
    R: "r r- 3: VR", AA: "a aa A A# a#2", SCHWA: "a# 3", O: "0 O: O", (AA, R): "A@ A:r", (O, R): "O@ o@ O:r",
    (E, R): "e@", (IY, R): "i@3 I@3", (W_UW, R): "U@", (IY, SCHWA): "i@", (AA, SCHWA): "aI@",
})
_ESPEAK_EN_US: dict[str, Classes] = {**_ESPEAK_EN, **_table({R: "3", AA: "0"})}  # en-us: ɚ; lot = ɑ
_ESPEAK_EN_GB: dict[str, Classes] = {**_ESPEAK_EN, **_table({AA: "A@", O: "O@ o@", (E, SCHWA): "e@",
                                                            (W_UW, SCHWA): "U@"})}

_ESPEAK_LANG: dict[str, dict[str, Classes]] = {
    "de": _table({KGH: "r R C", SCHWA: "3"}),
    "fr": _table({KGH: "r R"}),
    "pt": _table({KGH: "x", SCHWA: "& @-", AA: "&~ A"}),
    "fi": _table({AA: "&"}),
    "tr": _table({IY: "@", AA: "&", KGH: "J"}),
    "ru": _table({IY: "y", SCHWA: "V a#"}),
    "pl": _table({IY: "y", SH: "C"}),
    "hi": _table({SH: "c c# J J#", SCHWA: "V"}),
    "sw": _table({SH: "J"}),
    "id": _table({KGH: "C"}),
    "ja": _table({KGH: "C"}),
    "ko": _table({IY: "u-"}),
}

_STRESS = "'\",%=" + "ˈˌ"


def normalise_espeak(name: str) -> str:
    """Strip stress marks that espeak may attach to a mnemonic (keeps ``u"`` of Russian)."""
    name = name.strip()
    while name[:1] in _STRESS and len(name) > 1:
        name = name[1:]
    return name


def _espeak_table(lang: str) -> dict[str, Classes]:
    base = lang.split("+")[0].lower()
    family = base.split("-")[0]
    if family == "en":
        return {**_ESPEAK, **(_ESPEAK_EN_US if base == "en-us" else _ESPEAK_EN_GB)}
    return {**_ESPEAK, **_ESPEAK_LANG.get(family, {})}


_TABLE_CACHE: dict[str, dict[str, Classes]] = {}


def espeak_classes(name: str, lang: str) -> Classes | None:
    """Viseme class(es) of espeak-ng mnemonic ``name`` spoken in ``lang`` (``"en-us"``, ``"de"``...)."""
    table = _TABLE_CACHE.get(lang)
    if table is None:
        table = _TABLE_CACHE[lang] = _espeak_table(lang)
    name = normalise_espeak(name)
    if name.startswith("_"):
        return (SIL,)
    for candidate in (name, name.replace(":", ""), name.rstrip(":;#-"), name.replace(":", "").rstrip(";#-2")):
        if candidate in table:
            return table[candidate]
    return None


# festival: radio/darpa phones (kal, ked, cmu_us_slt_arctic_hts), and the Italian voices' set.
_FESTIVAL_EN = _table({
    SIL: "pau h# brth sil #",
    PBM: "p b m em", FV: "f v", TH: "th dh",
    ALV: "t d n l s z dx el en nx", KGH: "k g ng hh hv",
    R: "r er axr", W_UW: "uw uh w", O: "ao", AA: "aa ae", E: "eh", IY: "iy ih y", SCHWA: "ah ax",
    (AA, IY): "ay", (AA, W_UW): "aw", (O, W_UW): "ow", (O, IY): "oy", (E, IY): "ey", SH: "sh zh ch jh",
})
_FESTIVAL_IT = _table({
    SIL: "# pau", PBM: "p b m", FV: "f v nf", ALV: "t d n l s z r ts dz J L", SH: "S Z tS dZ", KGH: "k g ng",
    W_UW: "u w", O: "o O", AA: "a", E: "e E", IY: "i j",
})
_FESTIVAL_SETS: dict[str, dict[str, Classes]] = {"radio": _FESTIVAL_EN, "italian": _FESTIVAL_IT}

#: festival voice -> its phone set
FESTIVAL_PHONESET: dict[str, str] = {
    "kal_diphone": "radio", "ked_diphone": "radio", "cmu_us_slt_arctic_hts": "radio",
    "lp_diphone": "italian", "pc_diphone": "italian",
}


def festival_classes(name: str, phoneset: str = "radio") -> Classes | None:
    """Viseme class(es) of festival phone ``name`` in ``phoneset`` (stress digits like ``a1`` dropped)."""
    table = _FESTIVAL_SETS[phoneset]
    name = name.strip()
    return table.get(name) or table.get(name.rstrip("0123456789"))
