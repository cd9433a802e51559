"""Whose mouth to re-animate when a clip shows several people.

In the order a user would expect:

1. The user's own pick (``FacePick``): a point on the face, or the index the notes give.
2. The face whose mouth moves with the input's own speech: the dubbing case, where the person
   speaking in the original is the one who must speak the new audio (``_sync_r``; where that
   cannot tell, ``_plain_r``).
3. Otherwise the largest, most frontal face over the clip, kept for the whole clip rather than
   switching from shot to shot.

``find_speaker`` is the render's tracking stage around that choice: while the pass tracks every
face it guesses, by the same signs, whom the choice will fall on, so that only that face is meshed
on every frame (``people``), and it has the person finally chosen meshed on every frame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from openlipsync.engine.face_track import box_around, eye_distance, mouth_opening
from openlipsync.engine.options import FacePick
from openlipsync.engine.people import Cast, FaceRun, Observer, Person, track_people
from openlipsync.engine.speech import MouthTargets
from openlipsync.media.errors import MediaError

_Key = TypeVar("_Key")

#: Held-out correlation with the own speech (``_sync_r``) a face must reach to be taken as the one
#: speaking, and by how much it must beat every other face. On the 24 composed clips of
#: benchmarks/people.py these pick the speaker in 20 and a wrong face in none (the 4 they leave
#: undecided go to the tie-break below).
_MIN_SYNC_R = 0.15
_MIN_MARGIN = 0.1
#: Where that test cannot tell (a mouth that barely moves while it talks, or two mouths that both
#: move with any speech), the plain correlation of each mouth's opening with the front end's
#: opening (``_plain_r``, what the tracking pass guesses by) decides if one face reaches this and
#: beats every other by ``_MIN_MARGIN``; else the most prominent face. On 40 composed clips (the 24
#: of benchmarks/people.py and 16 of 12 and 20 s, docs/engine.md) the regression left 9 undecided,
#: 5 of whose most prominent faces were the stranger; this picks the speaker in 8 of them and the
#: stranger in none. It is not the first test: where the regression decides, the plain correlation
#: would have picked the stranger in 4. Against a track that neither face speaks (150 pairings of
#: those clips with another's audio) the regression already names a face in 80; this names one in
#: 19 more, which the most prominent would have had.
_MIN_PLAIN_R = 0.3
_MIN_FRAMES = 40  # frames a face must be seen for its correlation to count
_MAX_LAG = 3  # frames either way: the shared clips' own audio leads or lags by up to 3
_FOLDS = 4
_RIDGE = 10.0  # the features are z-normalised per track: this shrinks a 100-frame fit firmly
#: Frames of each face's recent past that ``_LeadPicker`` judges: enough for the speech test, and a
#: review late in a long clip costs what one early in it does.
_LEAD_WINDOW = 300


@dataclass(frozen=True)
class SpeakerChoice:
    person: Person | None
    #: Why, for the notes: "picked by index 1", "its mouth follows the input's own speech", ...
    reason: str
    #: Correlation of each person's mouth with the own speech, by index (NaN: too few frames).
    sync_r: dict[int, float]


@dataclass
class FoundSpeaker:
    """What the tracking pass found and whom it chose."""

    cast: Cast
    choice: SpeakerChoice
    #: The front end's reading of the input's own audio at ``times``; None without a track.
    own: MouthTargets | None
    times: np.ndarray  # of the decoded frames, seconds from the range's start
    #: Frames of the chosen person meshed after the pass, which had followed someone else closely.
    completed: int = 0


def find_speaker(
    frames: Iterable[tuple[float, np.ndarray]],
    width: int,
    height: int,
    *,
    own_speech: Callable[[np.ndarray], MouthTargets | None],
    nominal_times: np.ndarray,
    pick: FacePick | None,
    offset: float,
    decode_again: Callable[[], Iterable[np.ndarray]],
    observer: Callable[[], Observer] | None = None,
) -> FoundSpeaker:
    """Track every face of ``frames`` ((time, HxWx3 uint8 RGB) in order), choose whom to
    re-animate (``choose_speaker``), and make sure that person is meshed on every frame.

    ``own_speech(times)`` reads the input's own audio at frame times (None without one);
    ``nominal_times`` are the frame times the clip's rate promises, at which the pass's guess at
    the speaker (``_LeadPicker``) reads it before the real ones are decoded; in a constant-rate clip
    they are the same and it is read once. ``decode_again()`` decodes the clip from its first
    frame once more, should the chosen person have frames the pass only filled in.
    """
    times: list[float] = []
    read: list[tuple[np.ndarray, MouthTargets | None]] = []

    def own_at(at: np.ndarray) -> MouthTargets | None:
        for seen, own in read:
            if len(seen) == len(at) and np.allclose(seen, at, rtol=0.0, atol=1e-4):
                return own
        read.append((at, own_speech(at)))
        return read[-1][1]

    def images() -> Iterable[np.ndarray]:
        for time, image in frames:
            times.append(time)
            yield image

    lead = _LeadPicker(lambda: own_at(nominal_times), nominal_times, times, pick)
    cast = track_people(images(), width, height, observer=observer, lead=lead,
                        expected_frames=len(nominal_times))
    frame_times = np.array(times)
    own = own_at(frame_times)
    choice = choose_speaker(cast, own, pick, frame_times, offset)
    completed = cast.complete(choice.person, decode_again()) if choice.person is not None else 0
    return FoundSpeaker(cast, choice, own, frame_times, completed)


def choose_speaker(cast: Cast, own: MouthTargets | None, pick: FacePick | None,
                   frame_times: np.ndarray, offset: float) -> SpeakerChoice:
    """The person to re-animate. ``own`` is the front end's reading of the input's own audio at
    ``frame_times`` (seconds from ``offset`` into the input), None without one."""
    people = cast.people
    openings = ({p.index: _opening(p, len(frame_times)) for p in people}
                if own is not None and len(people) > 1 else {})
    scores = {i: _sync_r(opening, own) for i, opening in openings.items()}
    if pick is not None:
        return SpeakerChoice(_picked(cast, pick, frame_times, offset), _pick_reason(pick), scores)
    if not people:
        return SpeakerChoice(None, "no face found", scores)
    if len(people) == 1:
        return SpeakerChoice(people[0], "the only face", scores)
    leader = _clear_leader(scores, _MIN_SYNC_R)
    if leader is not None:
        return SpeakerChoice(people[leader], "its mouth follows the input's own speech", scores)
    if openings:
        leader = _clear_leader({i: _plain_r(opening, own) for i, opening in openings.items()}, _MIN_PLAIN_R)
        if leader is not None:
            return SpeakerChoice(people[leader], "its mouth opens with the input's own speech", scores)
    best = max(people, key=_prominence)
    return SpeakerChoice(best, "the largest, most frontal face", scores)


class _LeadPicker:
    """The tracking pass's guess (``people.Lead``) at whom ``choose_speaker`` will choose, by its
    rules on the frames seen so far: the face whose mouth follows the input's own speech, else the
    one whose mouth follows it best, else the most prominent. With a pick from the user it guesses
    nothing, and every face is meshed.

    A wrong guess costs time, not quality: the person finally chosen has the frames the pass
    skipped meshed afterwards (``Cast.complete``)."""

    def __init__(self, own: Callable[[], MouthTargets | None], grid: np.ndarray,
                 frame_times: Sequence[float], pick: FacePick | None) -> None:
        """``own()`` reads the input's own speech at the times ``grid`` (None without a track;
        asked at each review, so it should keep what it read); ``frame_times`` are the decoded
        frames' times on the same clock, growing as the pass goes."""
        self._own = own
        self._grid = np.asarray(grid, np.float64)
        self._times = frame_times
        self._pick = pick
        self._leader: FaceRun | None = None

    def __call__(self, runs: list[FaceRun], index: int) -> FaceRun | None:
        if self._pick is not None:
            return None
        first = max(0, index - _LEAD_WINDOW)
        own = self._own()
        scores: dict[FaceRun, float] = {}
        if own is not None:  # every face is meshed until the speech test can say something
            seen = 0
            times = np.asarray(self._times[first:index], np.float64)
            rows = np.clip(np.searchsorted(self._grid, times), 0, len(self._grid) - 1)
            expected = own.open[rows].astype(np.float64)
            for run in runs:
                opening = np.full(len(times), np.nan)
                lo = max(first, run.start)
                opening[lo - first : run.stop - first] = _run_opening(run, lo - run.start)
                seen = max(seen, int(np.isfinite(opening).sum()))
                scores[run] = _follows(expected, opening)
            if seen < _MIN_FRAMES:
                return None
            leader = _clear_leader(scores, _MIN_SYNC_R)
            if leader is not None:
                self._leader = leader
                return leader
        # Undecided: the lead stays where it was (a switch costs the new lead's skipped frames,
        # meshed again after the pass should the choice fall there), else the face the speech test
        # ranks first (the choice's tie-break reads the same correlation), else the most prominent.
        if not any(run is self._leader for run in runs):
            ranked = {run: r for run, r in scores.items() if np.isfinite(r)}
            self._leader = (max(ranked, key=ranked.__getitem__) if ranked else
                            max(runs, key=lambda run: _run_prominence(run, max(0, first - run.start))))
        return self._leader


def _pick_reason(pick: FacePick) -> str:
    if pick.index is not None:
        return f"picked by index {pick.index}"
    at = "" if pick.time is None else f" at {pick.time:g} s"
    return f"picked by the point ({pick.x:g}, {pick.y:g}){at}"


def _sync_r(opening: np.ndarray, own: MouthTargets) -> float:
    """How well the input's own audio predicts a person's mouth ``opening`` (``_opening``): the
    held-out Pearson r of a ridge regression from the audio's frame features (and the front end's
    opening) to the measured opening, over ``_FOLDS`` consecutive blocks, at the best lag within
    ``_MAX_LAG``.

    A regression fitted per person, rather than one fixed reading of the audio, follows how this
    mouth speaks; testing it on frames it was not fitted on keeps a mouth that merely moves from
    scoring. On 24 clips composed from the shared media (benchmarks/people.py) the speaker scored
    0.1 to 0.8 and the talking stranger beside them at most 0.2 where it was chosen.
    """
    return _lagged_r(_audio(own), opening)


def _clear_leader(scores: dict[_Key, float], least: float) -> _Key | None:
    """The key of the highest of ``scores`` if it reaches ``least`` and beats every other by
    ``_MIN_MARGIN``; NaN scores take no part."""
    ranked = sorted(((i, r) for i, r in scores.items() if np.isfinite(r)), key=lambda item: -item[1])
    margin = ranked[0][1] - ranked[1][1] if len(ranked) > 1 else np.inf
    return ranked[0][0] if ranked and ranked[0][1] >= least and margin >= _MIN_MARGIN else None


def _plain_r(opening: np.ndarray, own: MouthTargets) -> float:
    """Pearson r of a person's mouth ``opening`` (``_opening``) with the front end's opening of the
    input's own speech, at the best lag within ``_MAX_LAG``."""
    return _follows(own.open.astype(np.float64), opening)


def _follows(expected: np.ndarray, opening: np.ndarray) -> float:
    """Pearson r of ``opening`` (NaN where unseen) with ``expected`` at the best lag within
    ``_MAX_LAG``; NaN with fewer than ``_MIN_FRAMES`` seen."""
    return _best_lag(lambda mouth: _pearson(expected, mouth, _MIN_FRAMES), opening)


def _opening(person: Person, frames: int) -> np.ndarray:
    """The person's mouth opening on each of the clip's ``frames``, NaN where not seen."""
    opening = np.full(frames, np.nan)
    for run in person.runs:
        opening[run.start : run.stop] = _run_opening(run)
    return opening


def _run_opening(run: FaceRun, first: int = 0) -> np.ndarray:
    """The mouth opening of ``run`` from its frame ``first`` on, NaN where not usable or not
    meshed: a mouth filled in between meshes has lost the syllables the test looks for."""
    seen = np.asarray(run.ok[first:], bool) & np.asarray(run.meshed[first:], bool)
    return np.where(seen, mouth_opening(run.points()[first:]), np.nan)


def _audio(own: MouthTargets) -> np.ndarray:
    return np.column_stack([own.features, own.open]).astype(np.float64)


def _lagged_r(audio: np.ndarray, opening: np.ndarray) -> float:
    """:func:`_held_out_r` of ``opening`` (NaN where unseen) from ``audio`` (a row per frame) at
    the best lag within ``_MAX_LAG``."""
    return _best_lag(lambda mouth: _held_out_r(audio, mouth), opening)


def _best_lag(score: Callable[[np.ndarray], float], opening: np.ndarray) -> float:
    """The best ``score`` of ``opening`` shifted by each lag within ``_MAX_LAG``; NaN if none scores."""
    frames = len(opening)
    best = np.nan
    for lag in range(-_MAX_LAG, _MAX_LAG + 1):
        mouth = np.full(frames, np.nan)
        if lag >= 0:
            mouth[lag:] = opening[: frames - lag]
        else:
            mouth[:lag] = opening[-lag:]
        r = score(mouth)
        if np.isfinite(r) and not best >= r:
            best = r
    return best


def _pearson(x: np.ndarray, y: np.ndarray, least: int) -> float:
    """r of ``x`` and ``y`` over the frames where ``y`` is seen; NaN for fewer than ``least``."""
    seen = np.isfinite(y)
    if seen.sum() < least:
        return np.nan
    x, y = x[seen] - x[seen].mean(), y[seen] - y[seen].mean()
    scale = float(np.sqrt((x @ x) * (y @ y)))
    return float(x @ y) / scale if scale > 1e-9 else np.nan


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
    return sum(_run_prominence(run) for run in person.runs)


def _run_prominence(run: FaceRun, first: int = 0) -> float:
    """:func:`_prominence` of one run, from its frame ``first`` on."""
    ok = np.asarray(run.ok[first:])
    if not ok.any():
        return 0.0
    yaw = np.radians(np.asarray(run.yaw[first:])[ok])
    return float((eye_distance(run.points()[first:][ok]) * np.cos(yaw)).sum())


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
