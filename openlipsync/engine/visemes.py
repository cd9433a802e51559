"""Viseme classes, what each does with the mouth, and how neighbouring sounds blend (coarticulation).

The phonetic front end (``phonetics``) hears one of these classes per 10 ms hop; this module turns
its posteriors into articulation: how far the jaw opens, how round or spread the lips are, whether
they close, whether the lower lip goes to the upper teeth, how much teeth and tongue show. The
classes group phones that look alike on a face, in any language (a /k/ and a /x/ differ in the
throat, not on the lips), which is why a model trained on many languages' phones can drive any
speaker's mouth.

Coarticulation follows Cohen and Massaro (1993): every segment pulls each articulator towards its
own target with a strength (its dominance) that decays with distance in time. Lips must close for
/p b m/ whatever surrounds them, so their closure dominance is high; /t k h/ barely care what the
lips do, so their lip targets have little dominance and the neighbouring vowel's shape shows
through them ("key" is spread, "coo" is round), as on a real face.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

#: The viseme classes, in the order of the model's outputs (training/visemes/phones.py maps phones to them).
CLASSES: tuple[str, ...] = ("SIL", "PBM", "FV", "TH", "ALV", "SH", "KGH", "R", "W_UW", "O", "AA", "E",
                            "IY", "SCHWA")
#: What each articulation value means (all in [0, 1]).
ARTICULATORS: tuple[str, ...] = ("open", "round", "spread", "closure", "labiodental", "teeth", "tongue")

# Per class: target of each articulator, then its dominance. Openings are shares of the speaker's
# widest vowel: an open /a/ is 1, a close /i/ or /u/ about a quarter, consonants have the jaw nearly up.
#              open round spread clos  labio teeth tongue
_TARGETS = np.array([
    [0.00, 0.00, 0.00, 0.60, 0.00, 0.00, 0.00],  # SIL: lips together, relaxed
    [0.00, 0.10, 0.00, 1.00, 0.00, 0.00, 0.00],  # PBM: lips pressed
    [0.12, 0.00, 0.15, 0.00, 1.00, 0.70, 0.00],  # FV: lower lip under the upper teeth
    [0.22, 0.00, 0.20, 0.00, 0.00, 0.60, 1.00],  # TH: tongue tip between the teeth
    [0.15, 0.00, 0.20, 0.00, 0.00, 0.80, 0.20],  # ALV: teeth nearly together
    [0.15, 0.70, 0.00, 0.00, 0.00, 0.80, 0.00],  # SH: teeth together, lips pushed forward
    [0.35, 0.00, 0.00, 0.00, 0.00, 0.30, 0.00],  # KGH: jaw follows the vowels
    [0.25, 0.60, 0.00, 0.00, 0.00, 0.40, 0.00],  # R: slightly rounded
    [0.22, 1.00, 0.00, 0.00, 0.00, 0.10, 0.00],  # W_UW: close and round
    [0.60, 0.75, 0.00, 0.00, 0.00, 0.20, 0.00],  # O: open and round
    [1.00, 0.00, 0.20, 0.00, 0.00, 0.40, 0.30],  # AA: widest
    [0.62, 0.00, 0.60, 0.00, 0.00, 0.60, 0.20],  # E: half open, spread
    [0.25, 0.00, 1.00, 0.00, 0.00, 0.80, 0.00],  # IY: nearly closed, spread
    [0.45, 0.00, 0.10, 0.00, 0.00, 0.30, 0.10],  # SCHWA: neutral
], dtype=np.float64)
_DOMINANCE = np.array([
    [0.6, 0.3, 0.3, 0.6, 0.3, 0.3, 0.3],  # SIL
    [0.8, 0.3, 0.3, 6.0, 3.0, 1.0, 0.3],  # PBM: closure wins
    [0.6, 0.5, 0.5, 3.0, 6.0, 1.0, 0.3],  # FV: the lip-to-teeth contact wins
    [0.6, 0.3, 0.3, 2.0, 1.0, 1.0, 4.0],  # TH
    [0.5, 0.1, 0.1, 1.0, 0.5, 2.0, 0.5],  # ALV: lips free to follow the vowels
    [0.6, 2.0, 1.0, 1.0, 0.5, 2.0, 0.5],  # SH
    [0.2, 0.1, 0.1, 0.5, 0.5, 0.3, 0.3],  # KGH: almost no say
    [0.5, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5],  # R
    [1.0, 3.0, 1.5, 1.0, 1.0, 1.0, 1.0],  # W_UW; vowels hold the lips open against their neighbours
    [1.5, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0],  # O
    [2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],  # AA
    [1.5, 1.0, 1.5, 1.0, 1.0, 1.0, 1.0],  # E
    [1.0, 1.5, 2.0, 1.0, 1.0, 1.0, 1.0],  # IY
    [0.8, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0],  # SCHWA
], dtype=np.float64)
#: How far in time (s, Gaussian sigma) a segment's pull reaches: a syllable's worth, so lips
#: anticipate a rounded vowel through the consonants before it.
_REACH = 0.035


def articulation(posteriors: np.ndarray, hop: float) -> np.ndarray:
    """(H, len(ARTICULATORS)) articulation per hop from (H, len(CLASSES)) class posteriors.

    Each articulator is the dominance-weighted mean of the class targets around each hop:
    a confident /m/ closes the lips even between two open vowels, an uncertain hop borrows
    its shape from its neighbours.
    """
    posteriors = np.asarray(posteriors, np.float64)
    if posteriors.ndim != 2 or posteriors.shape[1] != len(CLASSES):
        raise ValueError(f"posteriors must be (hops, {len(CLASSES)}), got {posteriors.shape}")
    if len(posteriors) == 0:
        return np.zeros((0, len(ARTICULATORS)))
    weight = posteriors @ _DOMINANCE  # (H, A): each hop's pull on each articulator
    pulled = posteriors @ (_DOMINANCE * _TARGETS)  # the same, times the target it pulls towards
    sigma = _REACH / hop
    return gaussian_filter1d(pulled, sigma, axis=0, mode="nearest") / np.maximum(
        gaussian_filter1d(weight, sigma, axis=0, mode="nearest"), 1e-9)
