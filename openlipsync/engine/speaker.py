"""Whose mouth to re-animate when a clip shows several people.

In the order a user would expect:

1. The user's own pick (``FacePick``): a point on the face, or the index the notes give.
2. The face whose mouth moves with the input's own speech: the dubbing case, where the person
   speaking in the original is the one who must speak the new audio (``_sync_r``).
3. Otherwise the largest, most frontal face over the clip, kept for the whole clip rather than
   switching from shot to shot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openlipsync.engine.face_track import box_around, eye_distance, mouth_opening
from openlipsync.engine.options import FacePick
from openlipsync.engine.people import Cast, Person
from openlipsync.engine.speech import MouthTargets
from openlipsync.media.errors import MediaError

#: Held-out correlation with the own speech (``_sync_r``) a face must reach to be taken as the one
#: speaking, and by how much it must beat every other face. On the 24 composed clips of
#: benchmarks/people.py these pick the speaker in 17 and a wrong face in none.
_MIN_SYNC_R = 0.15
_MIN_MARGIN = 0.1
_MIN_FRAMES = 40  # frames a face must be seen for its correlation to count
_MAX_LAG = 3  # frames either way: the shared clips' own audio leads or lags by up to 3
_FOLDS = 4
_RIDGE = 10.0  # the features are z-normalised per track: this shrinks a 100-frame fit firmly


@dataclass(frozen=True)
class SpeakerChoice:
    person: Person | None
    #: Why, for the notes: "picked by index 1", "its mouth follows the input's own speech", ...
    reason: str
    #: Correlation of each person's mouth with the own speech, by index (NaN: too few frames).
    sync_r: dict[int, float]


def choose_speaker(cast: Cast, own: MouthTargets | None, pick: FacePick | None,
                   frame_times: np.ndarray, offset: float) -> SpeakerChoice:
    """The person to re-animate. ``own`` is the front end's reading of the input's own audio at
    ``frame_times`` (seconds from ``offset`` into the input), None without one."""
    people = cast.people
    scores = {}
    if own is not None and len(people) > 1:
        scores = {p.index: _sync_r(p, own, len(frame_times)) for p in people}
    if pick is not None:
        return SpeakerChoice(_picked(cast, pick, frame_times, offset), _pick_reason(pick), scores)
    if not people:
        return SpeakerChoice(None, "no face found", scores)
    if len(people) == 1:
        return SpeakerChoice(people[0], "the only face", scores)
    ranked = sorted(((r, i) for i, r in scores.items() if np.isfinite(r)), reverse=True)
    margin = ranked[0][0] - ranked[1][0] if len(ranked) > 1 else np.inf
    if ranked and ranked[0][0] >= _MIN_SYNC_R and margin >= _MIN_MARGIN:
        return SpeakerChoice(people[ranked[0][1]], "its mouth follows the input's own speech", scores)
    best = max(people, key=_prominence)
    return SpeakerChoice(best, "the largest, most frontal face", scores)


def _pick_reason(pick: FacePick) -> str:
    if pick.index is not None:
        return f"picked by index {pick.index}"
    at = "" if pick.time is None else f" at {pick.time:g} s"
    return f"picked by the point ({pick.x:g}, {pick.y:g}){at}"


def _sync_r(person: Person, own: MouthTargets, frames: int) -> float:
    """How well the input's own audio predicts this person's mouth opening: the held-out Pearson r
    of a ridge regression from the audio's frame features (and the front end's opening) to the
    measured opening, over ``_FOLDS`` consecutive blocks, at the best lag within ``_MAX_LAG``.

    A regression fitted per person, rather than one fixed reading of the audio, follows how this
    mouth speaks; testing it on frames it was not fitted on keeps a mouth that merely moves from
    scoring. On 24 clips composed from the shared media (benchmarks/people.py) the speaker scored
    0.1 to 0.8 and the talking stranger beside them at most 0.2 where it was chosen.
    """
    opening = np.full(frames, np.nan)
    for run in person.runs:
        ok = np.asarray(run.ok)
        opening[run.start : run.stop] = np.where(ok, mouth_opening(run.points()), np.nan)
    audio = np.column_stack([own.features, own.open]).astype(np.float64)
    best = np.nan
    for lag in range(-_MAX_LAG, _MAX_LAG + 1):
        mouth = np.full(frames, np.nan)
        if lag >= 0:
            mouth[lag:] = opening[: frames - lag]
        else:
            mouth[:lag] = opening[-lag:]
        r = _held_out_r(audio, mouth)
        if np.isfinite(r) and not best >= r:
            best = r
    return best


def _held_out_r(x: np.ndarray, y: np.ndarray) -> float:
    seen = np.flatnonzero(np.isfinite(y))
    if len(seen) < _MIN_FRAMES or np.std(y[seen]) < 1e-6:
        return np.nan
    predicted = np.empty(len(seen))
    blocks = np.array_split(np.arange(len(seen)), _FOLDS)
    for block in blocks:
        train = seen[np.setdiff1d(np.arange(len(seen)), block)]
        mean_x, mean_y = x[train].mean(axis=0), y[train].mean()
        a = x[train] - mean_x
        weights = np.linalg.solve(a.T @ a + _RIDGE * np.eye(a.shape[1]), a.T @ (y[train] - mean_y))
        predicted[block] = (x[seen[block]] - mean_x) @ weights + mean_y
    if np.std(predicted) < 1e-9:
        return np.nan
    return float(np.corrcoef(predicted, y[seen])[0, 1])


def _prominence(person: Person) -> float:
    """Eye distance times frontality, summed over the frames the person is usable: big, frontal
    and on screen long."""
    total = 0.0
    for run in person.runs:
        ok = np.asarray(run.ok)
        if ok.any():
            yaw = np.radians(np.asarray(run.yaw)[ok])
            total += float((eye_distance(run.points()[ok]) * np.cos(yaw)).sum())
    return total


def _picked(cast: Cast, pick: FacePick, frame_times: np.ndarray, offset: float) -> Person:
    people = cast.people
    if pick.index is not None:
        if pick.index >= len(people):
            found = f"{len(people)} found (0-{len(people) - 1})" if people else "no face was found"
            raise MediaError("invalid_parameters", f"face index {pick.index} does not exist: {found}")
        return people[pick.index]
    point = np.array([pick.x, pick.y])
    if pick.time is not None:
        times = np.asarray(frame_times) + offset
        frame = int(np.argmin(np.abs(times - pick.time))) if len(times) else 0
        candidates = [(p, frame) for p in people]
        where = f" at {pick.time:g} s"
    else:
        candidates = [(p, p.first) for p in people]
        where = " on the first frame each person appears"
    for person, frame in candidates:
        here = person.present(frame)
        if here is None:
            continue
        run, k = here
        points = run.points()[k]
        lo, hi = points.min(axis=0), points.max(axis=0)
        margin = 0.1 * (hi - lo)
        if ((lo - margin) <= point).all() and (point <= (hi + margin)).all():
            return person
    faces = [_describe(p, f) for p, f in candidates if p.present(f) is not None]
    listed = "; faces there: " + ", ".join(faces) if faces else "; there is no face there"
    raise MediaError("invalid_parameters", f"no face at ({pick.x:g}, {pick.y:g}){where}{listed}")


def _describe(person: Person, frame: int) -> str:
    run, k = person.present(frame)
    box = box_around(run.points()[k])
    return f"person {person.index} around ({box.cx:.0f}, {box.cy:.0f})"
