"""Every face in a clip, grouped into people: who is where on which frame, across shots.

Interviews, panels and films show several people and cut between shots. Anything the engine
learns per person (the exemplar library, rest lips, lip colour, the speaker calibration, the
open mouth lite shows) must come from that one person, or one person's mouth ends up on another's
face. So the tracking pass follows every face, not one:

* ``ShotDetector`` finds hard cuts; every face run ends at a cut, since a crop that follows a face
  across a cut lands on whoever stands there in the next shot.
* The full-range detector (``FaceFinder``) scans the frame at each shot's start and every
  ``_SCAN_EVERY`` frames after for faces that entered; each new face gets a ``FaceTracker`` of its
  own (the mesh on a crop that follows it), until it is lost. A clip with one face pays one
  detector run a second on top of the single-face tracker.
* Runs are then joined into people: a run continues a person's earlier run when it starts where
  that one ended, in the same shot, shortly after; otherwise when it looks like that person (the
  upper face resampled into the head frame, sampled from frontal frames). Runs that
  overlap in time are never one person. Too little to go on leaves a new person: two people merged
  would mix their mouths, one person split in two only leaves a shot untouched.
* Only one face is re-animated, so only one needs the mesh on every frame. Given a ``Lead``
  (``speaker.find_speaker`` gives one), the pass asks every ``_REVIEW_EVERY`` frames which face
  is likely the one, meshes it on every frame and the others, once settled, on every
  ``_SIDE_STRIDE``-th, their frames between filled in by interpolation: enough to tell who they
  are, how big, and whether their mouth moves with the speech. Should the final choice fall on
  one of them, ``Cast.complete`` meshes that person closely after all, so whoever is
  re-animated is meshed on every frame.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from openlipsync.engine import mouth_shape as ms
from openlipsync.engine.face_track import (
    DEEP_SEARCH_EVERY,
    SEARCH_PATIENCE,
    Box,
    FaceFinder,
    FaceTracker,
    FrameStore,
    LandmarkTrack,
    box_around,
    eye_distance,
    prominence,
    search_due,
    smoothed_track,
    usable,
    yaw_degrees,
)
from openlipsync.engine.mesh_model import MeshModel, Roi
from openlipsync.engine.shots import ShotDetector

_SCAN_EVERY = 30  # frames between scans for faces that entered (1 s at 30 fps)
_MAX_FACES = 4  # faces followed at once: the most prominent ones
#: Crop side (px) under which a further face is not followed: its eyes would be closer than
#: face_track's usable minimum of 12 px, so following it would cost a mesh run per frame for nothing.
_MIN_EXTRA_SIDE = 60.0
_SAME_FACE = 0.5  # a detection this many face widths from a followed face is that face
_SAMPLE_EVERY = 5  # frames between a run's descriptor samples
_MAX_SAMPLES = 40
_FRONTAL_DEG = 25.0  # descriptor samples only from faces turned less than this
_REJOIN_FRAMES = 60  # a run may continue one that ended this recently in the same shot ...
_REJOIN_DISTANCE = 1.0  # ... starting within this many eye distances of where it ended
#: Descriptor distance under which two runs are one person (see ``_distance``). Measured on the
#: shared clips: the two halves of one clip differ by at most 0.11, two different people by 0.20
#: or more (face proportions and skin colour separated them far worse).
_SAME_PERSON = 0.15
#: Frames between meshes of a face that is not the lead (see the module's docstring). The speaker
#: test correlates meshed frames only, so sparse samples make it noisier, not biased.
_SIDE_STRIDE = 5
_REVIEW_EVERY = 15  # frames between asking the ``Lead`` which face leads
#: Frames a new face is meshed on every frame whoever leads: enough for the pass's guess at the
#: speaker to score it (``speaker._MIN_FRAMES``, 40) before its mouth is only sampled. (After 30,
#: the guess on the shared clips' compositions was wrong as often as right.)
_SETTLE = 45

#: The descriptor's window in the head frame (eye distance 1, eyes at y = 0, mouth near y = 1)
#: and its size in samples.
_LOOK_SPAN = ((-0.9, 0.9), (-0.5, 0.7))
_LOOK_SIZE = (24, 16)


class Lead(Protocol):
    """Which of the faces in view is likely the one to re-animate."""

    def __call__(self, runs: list[FaceRun], index: int) -> FaceRun | None:
        """One of ``runs`` (the faces followed on frame ``index``), or None to mesh them all."""


class Observer(Protocol):
    """Sees the frames of a face run with its landmarks (None where not usable), in order: every
    frame of a run the pass follows closely; of one it samples, only the closely followed ones,
    the rest if ``Cast.complete`` meshes them."""

    def observe(self, image: np.ndarray, points: np.ndarray | None) -> None: ...

    def finish(self) -> None:
        """The run ended (or its completion did): what is kept can leave memory now."""


@dataclass(eq=False)
class FaceRun:
    """One face followed through consecutive frames of one shot."""

    start: int  # first frame
    shot: int
    #: Its landmarks while it runs; once it ended, they lie in the pass's store of ended runs
    #: (``ended``: that store and the first row), and this one is let go with its file descriptor.
    raw: FrameStore | None
    ok: list[bool] = field(default_factory=list)
    yaw: list[float] = field(default_factory=list)
    #: Per frame: the mesh ran on it. A face that is not the lead has most frames filled in
    #: between its meshed ones (``_fill``) until ``Cast.complete`` meshes them.
    meshed: list[bool] = field(default_factory=list)
    looks: list[np.ndarray] = field(default_factory=list)
    observer: Observer | None = None
    ended: tuple[FrameStore, int] | None = None
    _next_look: int = 0  # offset of the first frame a descriptor may be sampled from again

    @property
    def stop(self) -> int:
        return self.start + len(self.ok)

    def last_meshed(self, before: int) -> int:
        """Offset of the latest meshed frame before offset ``before``, -1 if none."""
        return next((k for k in range(before - 1, -1, -1) if self.meshed[k]), -1)

    def points(self) -> np.ndarray:
        if self.raw is not None:
            return self.raw.frames()
        assert self.ended is not None
        store, first = self.ended
        return store.frames()[first : first + len(self.ok)]

    def finish(self, ended: FrameStore) -> None:
        """The run ended: its landmarks move into ``ended``, the store every ended run of the pass
        shares, and its observer parks what it kept. Each run's own store holds a file descriptor
        (the memory map's), so a clip of a thousand shots kept a thousand open, past the usual
        limit of 1024: tracking failed with "Too many open files". A short run also never reached
        its store's own page release every ``pages.EVERY`` frames (a 10-minute clip cut every
        9.4 s kept 64 runs' pages resident); ``extend`` gives them back at once."""
        assert self.raw is not None
        self.ended = (ended, ended.extend(self.raw.frames()))
        self.raw = None
        if self.observer is not None:
            self.observer.finish()

    def look(self) -> np.ndarray | None:
        """The median descriptor of this run, None without frontal frames to sample."""
        return np.median(np.stack(self.looks), axis=0) if self.looks else None


@dataclass(eq=False)
class Person:
    """Runs of one person, in order; ``index`` numbers people by first appearance (then left to right)."""

    runs: list[FaceRun]
    index: int = 0

    @property
    def first(self) -> int:
        return self.runs[0].start

    def usable_frames(self) -> int:
        return sum(sum(run.ok) for run in self.runs)

    def present(self, frame: int) -> tuple[FaceRun, int] | None:
        """The run showing this person on ``frame`` and the frame's offset in it."""
        for run in self.runs:
            if run.start <= frame < run.stop:
                return run, frame - run.start
        return None

    def centre(self, frame: int) -> np.ndarray | None:
        here = self.present(frame)
        if here is None:
            return None
        run, k = here
        return run.points()[k].mean(axis=0)

    def look(self) -> np.ndarray | None:
        looks = [run.look() for run in self.runs if run.looks]
        return np.median(np.stack(looks), axis=0) if looks else None


@dataclass
class Cast:
    """What the tracking pass found: every person, and the shots."""

    people: list[Person]
    frames: int
    cuts: list[int]  # first frame of every shot after the first
    width: int
    height: int

    @property
    def shots(self) -> int:
        return len(self.cuts) + 1

    def track(self, person: Person | None) -> LandmarkTrack:
        """The smoothed track of ``person`` over the whole clip; frames without them are not ok."""
        runs = person.runs if person is not None else []
        return smoothed_track(self.frames, [(run.start, run.points(), run.ok) for run in runs],
                              self.width, self.height)

    def observers(self, person: Person) -> list[Observer]:
        return [run.observer for run in person.runs if run.observer is not None]

    def complete(self, person: Person, frames: Iterable[np.ndarray]) -> int:
        """Mesh ``person`` on every frame where the pass only sampled them (see the module's
        docstring), from ``frames``, the clip decoded again from its first frame; returns how many
        frames were meshed: the skipped ones, and the sampled ones after them, whose crops came from
        five frames before. Each is meshed in the crop taken from the frame before, as by a
        tracker that followed the face closely all along, and the points come out as its points.
        (The mesh moves with its crop: meshing the skipped frames alone, in crops around the
        filled-in points, left the lips 1.8% of the eye distance off at the 95th percentile.)
        Costs a decode of the clip up to the last such frame, and nothing when there is none."""
        due = {run.start + k: (run, k) for run in person.runs for k in range(1, len(run.ok))
               if not (run.meshed[k] and run.meshed[k - 1])}
        if not due:
            return 0
        model, last = MeshModel(), max(due)
        for index, image in enumerate(frames):
            if index in due:
                run, k = due[index]
                points = run.points()  # k >= 1: a run's first frame is always meshed
                found = model.run(image, Roi.around(points[k - 1], points[k - 2] if k > 1 else None))
                run.meshed[k] = found is not None
                if found is not None:
                    points[k] = found[:, :2]
                    run.yaw[k] = yaw_degrees(found)
                if run.observer is not None:
                    good = found is not None and usable(points[k], run.yaw[k], points[k - 1],
                                                        self.width, self.height)
                    run.observer.observe(image, points[k] if good else None)
            if index == last:
                break
        for run in {id(run): run for run, _ in due.values()}.values():
            if run.observer is not None:
                run.observer.finish()
        for run in person.runs:
            points = run.points()
            run.ok = [run.meshed[k] and usable(points[k], run.yaw[k], points[k - 1] if k else None,
                                               self.width, self.height) for k in range(len(run.ok))]
        return len(due)


def track_people(
    frames: Iterable[np.ndarray],
    width: int,
    height: int,
    *,
    observer: Callable[[], Observer] | None = None,
    lead: Lead | None = None,
    expected_frames: int | None = None,
) -> Cast:
    """Follow every face of ``frames`` (HxWx3 uint8 RGB, in order) and group them into people.

    ``observer()`` makes one observer per face run, which sees each of the run's frames while the
    image is at hand (a later stage keeps what it needs of the person without a second decode).
    With ``lead``, only the face it names is meshed on every frame (see the module's docstring);
    without, every face is.
    ``expected_frames`` sizes each run's point store up front: a store that has to grow copies
    itself, and for a moment holds both copies.
    """
    shots = ShotDetector()
    finder = FaceFinder(width, height)
    ended = FrameStore(expected_frames or 256)
    active: list[tuple[FaceRun, FaceTracker]] = []
    runs: list[FaceRun] = []
    cuts: list[int] = []
    empty = 0  # consecutive frames without a face
    since_lost = SEARCH_PATIENCE  # frames since a face was lost (not at a cut)
    count = 0
    leader: FaceRun | None = None

    def end(pair: tuple[FaceRun, FaceTracker]) -> None:
        pair[1].close()
        pair[0].finish(ended)
        active.remove(pair)

    def take(pair: tuple[FaceRun, FaceTracker], image: np.ndarray, points: np.ndarray | None,
             found: list[np.ndarray]) -> bool:
        """Keep a face's ``points`` on ``image`` unless it was lost or drifted onto a face in
        ``found``; whether it was kept."""
        nonlocal since_lost
        if points is None:
            end(pair)
            since_lost = 0
            return False
        if any(_overlaps(points, other) for other in found):
            end(pair)  # it drifted onto a face another run follows
            return False
        _extend(pair[0], image, points, pair[1].yaw_deg, width, height)
        return True

    # Side faces' meshes (see the module's docstring) run on the pool while the main thread goes
    # on with the lead and the next frames; each is taken in once done, the frames its face skipped
    # meanwhile after it. Waiting for one at once kept the main thread idle for a quarter of a
    # second in 20 s: the pool thread shares its core with the decoder, and the GIL with this one.
    pending: dict[int, _Pending] = {}

    def settle(found: list[np.ndarray], wait: bool = True) -> None:
        for key, side in list(pending.items()):
            if wait or side.future.done():
                del pending[key]
                if take(side.pair, side.image, side.future.result(), found):
                    for _ in range(side.skipped):
                        _skip(side.pair[0])

    pool = ThreadPoolExecutor(min(_MAX_FACES, os.cpu_count() or 1), thread_name_prefix="face-mesh")
    try:
        for index, image in enumerate(frames):
            count += 1
            cut = shots.update(image)
            scan = _scan_now(index, bool(active), cuts + [index] * cut, empty, since_lost)
            if cut or scan:
                settle([])
            if cut:
                cuts.append(index)
                for pair in list(active):
                    end(pair)
            if scan:
                boxes = finder.find(image, tiles=not active and empty % DEEP_SEARCH_EVERY == 0)
                for box in sorted(boxes, key=lambda b: -prominence(b, width, height)):
                    if len(active) >= _MAX_FACES or any(_same_face(box, run) for run, _ in active):
                        continue
                    if active and box.side < _MIN_EXTRA_SIDE:
                        continue  # a face in the crowd, too small to ever be usable
                    room = (expected_frames or 0) - index + 1  # the run cannot outlast the clip
                    store = FrameStore(max(room, 64))
                    run = FaceRun(index, shots.shot, store, observer=observer and observer())
                    active.append((run, FaceTracker(width, height, start=box, search=False)))
                    runs.append(run)
            since_lost += 1
            if lead is not None and len(active) > 1 and index % _REVIEW_EVERY == 0:
                settle([])
                leader = lead([run for run, _ in active], index)
            head = next((pair for pair in active if pair[0] is leader), None)
            if head is None or len(active) < 2:
                settle([])
                found: list[np.ndarray] = []
                meshing = list(active)
                updates = _update_all(pool, [tracker for _, tracker in meshing], image)
                for pair, points in zip(meshing, updates, strict=True):
                    if take(pair, image, points, found):
                        found.append(points)
            else:
                points = head[1].update(image)
                settle([points] if points is not None else [], wait=False)
                for pair in [pair for pair in active if pair is not head]:
                    waiting = pending.get(id(pair[0]))
                    if waiting is not None and len(pair[0].ok) + 1 + waiting.skipped >= _SETTLE:
                        waiting.skipped += 1  # its frame comes after the mesh still running
                        continue
                    if waiting is not None:  # a face still settling is meshed on every frame
                        settle([points] if points is not None else [])
                        if pair not in active:
                            continue
                    if _due(pair[0]):
                        pending[id(pair[0])] = _Pending(pair, pool.submit(pair[1].update, image), image)
                    else:
                        _skip(pair[0])
                take(head, image, points, [])
            empty = 0 if active else empty + 1
    finally:
        try:
            settle([])
        finally:
            pool.shutdown()
            for pair in list(active):
                end(pair)
            finder.close()
    kept = [run for run in runs if any(run.ok)]
    return Cast(_group(kept), count, cuts, int(width), int(height))


@dataclass
class _Pending:
    """A side face's mesh running on the pool, and the frames that face skipped since."""

    pair: tuple[FaceRun, FaceTracker]
    future: Future
    image: np.ndarray
    skipped: int = 0


def _update_all(pool: ThreadPoolExecutor, trackers: list[FaceTracker], image: np.ndarray) -> list:
    """Each tracker's points on ``image``. Several faces' meshes run on threads of their own, the
    first on this one: the landmark model and OpenCV release the GIL, so with two faces in view
    both cores work."""
    if len(trackers) < 2:
        return [tracker.update(image) for tracker in trackers]
    others = [pool.submit(tracker.update, image) for tracker in trackers[1:]]
    return [trackers[0].update(image), *(future.result() for future in others)]


def _scan_now(index: int, following: bool, cuts: list[int], empty: int, since_lost: int) -> bool:
    """Whether to run the detector on this frame: at a shot's start, once a second while faces are
    followed, on every frame for a while after one was lost (it is likely back in a moment, and
    its frames go untouched until found), and thinning out while no face is in view."""
    if index == 0 or (cuts and cuts[-1] == index):
        return True
    if following:
        return index % _SCAN_EVERY == 0 or since_lost < SEARCH_PATIENCE
    return search_due(empty)


def _same_face(box: Box, run: FaceRun) -> bool:
    if not run.ok:
        return False
    here = box_around(run.points()[len(run.ok) - 1])
    return np.hypot(box.cx - here.cx, box.cy - here.cy) < _SAME_FACE * here.side


def _overlaps(points: np.ndarray, other: np.ndarray) -> bool:
    scale = float(eye_distance(other))
    return float(np.linalg.norm(points.mean(axis=0) - other.mean(axis=0))) < 0.5 * scale


def _extend(run: FaceRun, image: np.ndarray, points: np.ndarray, yaw: float, width: int, height: int) -> None:
    """Append a meshed frame to ``run``, filling in the frames skipped since its last one."""
    k = len(run.ok)
    previous = run.points()[k - 1] if k else None
    good = usable(points, yaw, previous, width, height)
    run.raw.append(points)
    run.ok.append(good)
    run.yaw.append(yaw)
    run.meshed.append(True)
    _fill(run, run.last_meshed(k), k)
    if good and k >= run._next_look and abs(yaw) < _FRONTAL_DEG and len(run.looks) < _MAX_SAMPLES:
        run.looks.append(_look(image, points))
        run._next_look = k + _SAMPLE_EVERY
    if run.observer is not None and (k == 0 or run.meshed[k - 1]):  # a sampled frame waits for complete
        run.observer.observe(image, points if good else None)


def _due(run: FaceRun) -> bool:
    """Whether a face that is not the lead is meshed on the next frame."""
    return len(run.ok) < _SETTLE or len(run.ok) - run.last_meshed(len(run.ok)) >= _SIDE_STRIDE


def _skip(run: FaceRun) -> None:
    """A frame on which ``run``'s face is not meshed: it keeps its last points, not usable, until
    the next meshed frame fills it in."""
    k = len(run.ok)
    run.raw.append(run.points()[k - 1])
    run.ok.append(False)
    run.yaw.append(run.yaw[k - 1])
    run.meshed.append(False)


def _fill(run: FaceRun, before: int, after: int) -> None:
    """Points, yaw and usability of the frames strictly between meshed offsets ``before`` and
    ``after``, interpolated: usable where both ends are."""
    if before < 0 or after - before < 2:
        return
    points = run.points()
    share = (np.arange(1, after - before, dtype=np.float32) / (after - before))[:, None, None]
    points[before + 1 : after] = (1 - share) * points[before] + share * points[after]
    ok = run.ok[before] and run.ok[after]
    for k in range(before + 1, after):
        t = (k - before) / (after - before)
        run.ok[k] = ok
        run.yaw[k] = (1 - t) * run.yaw[before] + t * run.yaw[after]


def _look(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """A descriptor of who this is: the upper face (eyes, nose, cheeks; not the mouth, which moves)
    resampled into the head frame at ``_LOOK_SIZE``, grey, with its mean and contrast taken out so
    the light of a shot matters little."""
    frame = ms.HeadFrame.from_points(points.astype(np.float64))
    (x0, x1), (y0, y1) = _LOOK_SPAN
    width, height = _LOOK_SIZE
    step = np.array([(x1 - x0) / width, (y1 - y0) / height])
    ux, uy = frame.axes * frame.scale
    corner = frame.origin + ux * (x0 + step[0] / 2) + uy * (y0 + step[1] / 2)
    to_image = np.array([[ux[0] * step[0], uy[0] * step[1], corner[0]],
                         [ux[1] * step[0], uy[1] * step[1], corner[1]]])
    crop = cv2.warpAffine(image, to_image, _LOOK_SIZE, flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP)
    values = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32).ravel()
    values -= values.mean()
    return values / max(float(np.linalg.norm(values)), 1e-3)


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """One minus the normalised cross-correlation of two descriptors: 0 for the same picture."""
    a, b = a - a.mean(), b - b.mean()
    return 1.0 - float(a @ b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-9)


def _group(runs: list[FaceRun]) -> list[Person]:
    """Join runs into people (see the module's docstring), then number them."""
    people: list[Person] = []
    for run in sorted(runs, key=lambda r: r.start):
        free = [p for p in people if all(r.stop <= run.start or run.stop <= r.start for r in p.runs)]
        person = _continued(run, free) or _lookalike(run, free)
        if person is None:
            people.append(Person([run]))
        else:
            person.runs.append(run)
    people.sort(key=lambda p: (p.first, float(p.runs[0].points()[0, :, 0].mean())))
    for number, person in enumerate(people):
        person.index = number
    return people


def _continued(run: FaceRun, people: list[Person]) -> Person | None:
    start = run.points()[0]
    for person in people:
        last = person.runs[-1]
        if last.shot == run.shot and run.start - last.stop <= _REJOIN_FRAMES:
            end = last.points()[len(last.ok) - 1]
            moved = np.linalg.norm(start.mean(axis=0) - end.mean(axis=0))
            if moved < _REJOIN_DISTANCE * float(eye_distance(end)):
                return person
    return None


def _lookalike(run: FaceRun, people: list[Person]) -> Person | None:
    look = run.look()
    if look is None:
        return None
    scored = [(_distance(look, other), person) for person in people if (other := person.look()) is not None]
    best = min(scored, key=lambda pair: pair[0], default=None)
    return best[1] if best is not None and best[0] < _SAME_PERSON else None
