"""`standard` and `pro`: the person's own mouths from the input, re-sequenced to the new speech."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from openlipsync.engine import mouth_shape as ms
from openlipsync.engine.composite import colour_matched
from openlipsync.engine.exemplars import LIP_COLOUR_TOLERANCE, lip_colour, lip_mask
from openlipsync.engine.face_track import LandmarkTrack, eye_distance, track_faces
from openlipsync.engine.library import ClipPass, LibrarySpec, blocks, build_library
from openlipsync.engine.lite import LiteRenderer
from openlipsync.engine.options import RenderOptions
from openlipsync.engine.render import render
from openlipsync.engine.selection import LITE, select
from openlipsync.engine.speech import analyse_speech
from openlipsync.engine.standard import _LIP_TONE, MODES, ExemplarRenderer, _frame_poses, _lip_tone_matched
from openlipsync.media.audio import iter_audio
from openlipsync.media.encode import VideoWriter
from openlipsync.media.probe import probe_video
from openlipsync.media.quality import psnr
from openlipsync.media.video import read_frames
from tests import generate
from tests.conftest import shared_media
from tests.faces import meshed_frames
from tests.media_checks import frames

FACELESS = range(30, 45)  # frames of the gap clip with the face hidden


def mouth_psnr(a: np.ndarray, b: np.ndarray, points: np.ndarray) -> float:
    """PSNR of two frames over the box of the lips at ``points``."""
    (x0, y0), (x1, y1) = points[list(ms.OUTER)].min(0).astype(int), points[list(ms.OUTER)].max(0).astype(int)
    return psnr(a[y0:y1, x0:x1], b[y0:y1, x0:x1])


def tracked(path: Path) -> tuple[ClipPass, LandmarkTrack]:
    """render()'s first pass over the whole of ``path``: what the library may reuse."""
    info = probe_video(path)
    times: list[float] = []

    def images():
        for frame in read_frames(path):
            times.append(frame.time)
            yield frame.image

    track = track_faces(images(), info.width, info.height)
    return ClipPass(path, info, 0.0, info.duration, None, np.array(times)), track


@pytest.fixture(scope="module")
def gap_clip(tmp_path_factory) -> Path:
    """woman_flags.mp4's first 3 s (a talking mouth) with the face blanked out on FACELESS frames."""
    path = tmp_path_factory.mktemp("standard") / "gap.mp4"
    source = shared_media("woman_flags.mp4")
    info = probe_video(source)
    with VideoWriter(path, info.width, info.height, info.fps, audio_path=source) as writer:
        for frame in read_frames(source, 0.0, 3.0):
            image = frame.image
            if frame.index in FACELESS:
                image = np.full_like(image, 128)
            writer.write(image, frame.time)
    return path


@pytest.fixture(scope="module")
def gap_library(gap_clip):
    clip, track = tracked(gap_clip)
    return clip, track, build_library(clip, track, MODES["standard"].library)


@pytest.fixture(scope="module")
def speaking(gap_library):
    """8 s of speech_en_a.wav over the gap clip, looped: (targets, source frames, their poses)."""
    _, track, _ = gap_library
    targets = analyse_speech(iter_audio(shared_media("speech_en_a.wav")), 16000, np.arange(200) / 25.0)
    source = np.arange(200) % len(track.ok)
    return targets, source, _frame_poses(track, source)


def test_library_never_uses_frames_without_a_face(gap_library):
    clip, track, library = gap_library
    assert not track.ok[list(FACELESS)].any(), "the blanked frames must have no usable face"
    assert len(library) >= 50, "every other frame of the talking clip is an exemplar"
    assert set(library.source.tolist()).isdisjoint(FACELESS)
    assert track.ok[library.source].all()
    # Every crop shows a mouth: lips darker than the skin around them, nothing flat grey.
    assert library.crops.reshape(len(library), -1).std(axis=1).min() > 10
    assert library.reach()[1] - library.reach()[0] > 0.1, "woman_flags opens and closes her mouth"


def test_a_render_of_part_of_the_clip_draws_on_the_whole_clip_without_faceless_frames(gap_clip):
    """The rendered range is 0.5 s; the library comes from its own pass over all 3 s."""
    clip, _ = tracked(gap_clip)
    part = ClipPass(gap_clip, clip.info, 2.0, 2.5, 12.0, np.arange(6) / 12.0)
    info = clip.info
    rendered = read_frames(gap_clip, 2.0, 2.5, 12.0)
    track = track_faces((f.image for f in rendered), info.width, info.height)
    library = build_library(part, track, MODES["standard"].library)
    # Source frames are counted on the 12 fps grid of the whole clip.
    assert library.times.min() < 1.0 and library.times.max() > 2.0, "exemplars from the whole clip"
    hidden = (FACELESS.start / info.fps - 1e-6, FACELESS.stop / info.fps)
    faceless = (library.times >= hidden[0]) & (library.times < hidden[1])
    assert not faceless.any(), library.times[faceless]


def test_selection_follows_the_speech_and_keeps_runs(gap_library):
    clip, track, library = gap_library
    speech = shared_media("speech_en_a.wav")
    times = np.arange(75) / 25.0
    targets = analyse_speech(iter_audio(speech), 16000, times)
    source = np.arange(75) % len(track.ok)
    chosen = select(library, targets, _frame_poses(track, source), candidates=12)
    picked = chosen.choice >= 0
    # Closures she makes by pressing her lipstick away are not shown (off colour): lite renders
    # some of the closed frames instead.
    assert picked.mean() > 0.85, "a talking clip has the shapes speech needs"
    gaps = library.gap[chosen.choice[picked]]
    assert np.corrcoef(gaps, chosen.gap[picked])[0, 1] > 0.8
    closed = targets.closed[picked]
    assert gaps[closed].max() < 0.08, "closed lips where the speech closes them"
    runs = (np.diff(chosen.choice) == 1) & (chosen.choice[1:] != LITE)
    assert runs.mean() > 0.1, "consecutive source frames play on where they fit"


def test_closed_lips_look_like_the_speakers_rest_lips(gap_library, speaking, monkeypatch):
    """Gap 0 alone also matches pressed, rolled-in lips; the rest shape picks the relaxed ones.
    (Her pressed lips also lose their lipstick, which rules them out on its own: the colour check
    is turned off here to see the shape's part, which is all there is for lips that keep their colour.)"""
    clip, track, library = gap_library
    monkeypatch.setattr(type(library), "off_colour", lambda self: np.zeros(len(self), bool))
    targets, _, poses = speaking
    # Whole pauses at rest: at a pause's edges the speech stage parts the lips towards the next
    # word, and where the looped clip jumps to another head pose mid-pause (frame 150), the run of
    # frames that opens into that word then starts a few frames early, in the pause: a trade of
    # the rest shape against the pose, not what this test is about.
    pauses_shut = np.where(targets.speech, targets.open, 0.0).astype(np.float32)
    targets = dataclasses.replace(targets, open=pauses_shut, closed=targets.closed | ~targets.speech)
    rest = ms.rest_lips(track.points, track.ok, clip.info.fps).shape
    distance = library.lip_distance(rest)
    closed = targets.closed & (select(library, targets, poses, rest=rest).choice != LITE)
    assert closed.sum() > 20, "the speech closes the lips and silence follows it"
    plain = select(library, targets, poses).choice[closed]
    rested = select(library, targets, poses, rest=rest).choice[closed]
    # Measured: the farthest resting mouth chosen 0.032 from rest without it, 0.019 with it. Inside
    # speech a /p b m/ may play a real pressed closure on in its run, as a speaker's lips do.
    resting = ~targets.speech[closed]
    assert resting.sum() > 10
    assert distance[rested][resting].max() < 0.8 * distance[plain][resting].max()
    assert distance[rested].mean() < distance[plain].mean()
    assert library.gap[rested].max() < 0.04, "still closed"


def test_a_held_smile_is_re_enacted_with_the_persons_wider_mouths(gap_library, speaking):
    """Where the input's expression holds the lips wider than usual (RestLips.held_width), the
    exemplars chosen for the same speech are wider; narrower where it draws them in. (Measured on
    her whole clip: 0.04 either way moves the chosen mouths' mean width by +0.015 and -0.007; the
    rest of the change comes from the lips' shape following the target's, Style.follow.)"""
    _, _, library = gap_library
    targets, _, poses = speaking
    n = len(targets.open)
    plain = select(library, targets, poses).choice
    for held in (0.04, -0.04):
        chosen = select(library, targets, poses, held=np.full(n, held)).choice
        both = (plain != LITE) & (chosen != LITE)
        assert both.sum() > n // 2
        change = library.width[chosen[both]].mean() - library.width[plain[both]].mean()
        assert change * np.sign(held) > 0.1 * abs(held), change


def test_silence_rests_on_one_mouth_instead_of_hopping(gap_library):
    """Past the end of the speech (silence), cuts between closed exemplars would read as a quivering mouth."""
    clip, track, library = gap_library
    times = 7.0 + np.arange(75) / 25.0  # speech_en_a.wav ends at 8 s: two seconds of silence follow
    targets = analyse_speech(iter_audio(shared_media("speech_en_a.wav")), 16000, times)
    silent = ~targets.speech
    assert silent[-40:].all()
    source = np.arange(75) % len(track.ok)
    choice = select(library, targets, _frame_poses(track, source), candidates=12).choice
    pairs = silent[1:] & silent[:-1]
    cuts = (choice[1:] != choice[:-1]) & (choice[1:] != choice[:-1] + 1)
    # Measured: 1 cut in these 50 silent pairs; 13 when holding cost as much in silence as in speech.
    assert cuts[pairs].sum() <= 2, "a resting mouth holds or plays on instead of cutting"


def test_a_resting_mouth_under_silence_keeps_the_input_pixels(gap_library, tmp_path):
    """As in lite: a closed, still mouth over silence is the input's own resting mouth; swapping in
    an exemplar of it would only resample it and add a cut's worth of motion."""
    clip, track, library = gap_library
    gaps = np.array([ms.inner_gap(p) if ok else np.inf for p, ok in zip(track.points, track.ok, strict=True)])
    usual = np.isin(np.arange(len(gaps)), library.source[~library.off_colour()])
    rest = int(np.argmin(np.where(usual, gaps, np.inf)))  # her closest lips that keep their colour
    assert gaps[rest] < 0.04, "woman_flags closes her mouth somewhere in the first 3 s"
    count = 30
    still = LandmarkTrack(points=np.repeat(track.points[rest][None], count, axis=0), ok=np.ones(count, bool),
                          width=track.width, height=track.height)
    image = next(f.image for f in read_frames(clip.path) if f.index == rest)
    quiet = generate.silence_wav(tmp_path / "quiet.wav", 2.0)
    targets = analyse_speech(iter_audio(quiet, rate=16000), 16000, np.arange(count) / 15)
    source = np.zeros(count, np.int64)
    selection = select(library, targets, _frame_poses(still, source), candidates=12)
    assert (selection.choice != LITE).all(), "the library has closed mouths for silence"
    lite = LiteRenderer(still, targets, frame_rate=15)
    renderer = ExemplarRenderer(library, selection, MODES["standard"].style, lite, [])
    assert all(renderer.render(image.copy(), still.points[k], k) is None for k in range(count))


def test_pro_dissolves_only_between_open_mouths(gap_library, speaking):
    clip, track, library = gap_library
    targets, source, poses = speaking
    selection = select(library, targets, poses, candidates=24)
    fallback = LiteRenderer(track, targets, source, frame_rate=25)
    renderer = ExemplarRenderer(library, selection, MODES["pro"].style, fallback, [])
    dissolved = renderer._outgoing != LITE
    assert dissolved.sum() >= 3, "a talking clip cuts between similar mouths now and then"
    assert (selection.gap[dissolved] > 0).all(), "closed lips are never shown doubled"
    assert (selection.gap[~dissolved] == 0).any(), "the speech closes the lips somewhere"


def test_lips_darker_than_the_frames_own_are_brought_back_to_its_colour():
    """An exemplar whose lips are darker than this person's lips in this frame (pressed, licked, in
    a shadow of their own: the light match follows the skin around them, not the lips) is shown
    with the frame's lip colour, give or take _LIP_TONE; the skin around them is left alone. A frame
    whose own lips are no guide (open wide, or far from the person's usual colour) changes nothing."""
    found = [(image, points) for image, points in meshed_frames("woman_flags.mp4", 4) if points is not None]
    image, points = next((image, points) for image, points in found if ms.inner_gap(points) < 0.1)
    x0, y0 = np.floor(points[list(ms.OUTER)].min(axis=0)).astype(int) - 20
    x1, y1 = np.ceil(points[list(ms.OUTER)].max(axis=0)).astype(int) + 20
    local = points - (x0, y0)
    frame = ms.HeadFrame.from_points(points)
    own = lip_colour(image[y0:y1, x0:x1], local)
    lips = lip_mask(image[y0:y1, x0:x1].shape, local) > 0
    lab = cv2.cvtColor(image[y0:y1, x0:x1].astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    lab[lips, 0] -= 12.0  # the same lips, 12 lightness units darker
    dark = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB) * 255.0
    assert np.linalg.norm(lip_colour(dark, local) - own) > 10

    shown = _lip_tone_matched(dark, local, image, points, frame, usual=own)
    assert np.linalg.norm(lip_colour(shown, local) - own) < _LIP_TONE + 0.5
    skin = cv2.dilate(lips.astype(np.uint8), np.ones((9, 9), np.uint8)) == 0
    assert np.abs(shown[skin] - dark[skin]).max() < 1.0, "only the lips change"
    near = image[y0:y1, x0:x1].astype(np.float32)
    same = _lip_tone_matched(near, local, image, points, frame, usual=own)
    assert same is near, "lips of the frame's own colour stay as they are"
    # Lips far from the person's usual ones (pressed pale) are no guide; nor are those of a mouth
    # open wide, whose tracked lip band takes in teeth.
    usual = own - (LIP_COLOUR_TOLERANCE + 4.0, 0.0, 0.0)
    assert _lip_tone_matched(dark, local, image, points, frame, usual=usual) is dark
    wide_image, wide = next((image, points) for image, points in found if ms.inner_gap(points) > 0.2)
    assert _lip_tone_matched(dark, local, wide_image, wide, ms.HeadFrame.from_points(wide), usual=own) is dark


def test_blocks_keep_long_clips_bounded():
    assert blocks(100, 360) == [(0, 100)]
    spans = blocks(54_000, 360)  # 30 min at 30 fps
    assert sum(b - a for a, b in spans) <= 360
    assert all(b - a == 45 for a, b in spans), "blocks of consecutive frames keep real motion"
    assert spans[0][0] == 0 and spans[-1][1] == 54_000, "the blocks cover the whole clip"


def test_pro_keeps_native_resolution_and_standard_caps_it(gap_library):
    clip, track, _ = gap_library
    eyes = float(np.median(eye_distance(track.points[track.ok])))
    assert MODES["standard"].library.max_ppu < eyes < MODES["pro"].library.max_ppu
    pro = build_library(clip, track, LibrarySpec(capacity=20, max_ppu=MODES["pro"].library.max_ppu))
    standard = build_library(clip, track, LibrarySpec(capacity=20, max_ppu=MODES["standard"].library.max_ppu))
    assert pro.ppu == pytest.approx(eyes, rel=0.02), "pro cuts the mouth at the face's own resolution"
    assert standard.ppu == MODES["standard"].library.max_ppu
    assert pro.crops.shape[1] > standard.crops.shape[1]
    assert len(pro) == len(standard) == 20, "the capacity bounds the library"


def test_cli_renders_standard(tmp_path):
    clip, speech = shared_media("woman_flags.mp4"), shared_media("speech_en_a.wav")
    out = tmp_path / "standard.mp4"
    done = subprocess.run([sys.executable, "-m", "openlipsync.cli", "render", str(clip), str(speech), "-o",
                           str(out), "--mode", "standard", "--end", "1.5", "--max-fps", "12", "--json", "-q"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["mode"] == "standard" and summary["frames"] == 18 == summary["frames_with_face"]
    assert "library" in summary["stage_seconds"]
    rendered, source = frames(out), [f.image for f in read_frames(clip, 0.0, 1.5, 12)]
    assert len(rendered) == 18
    track = track_faces(source, *source[0].shape[1::-1])
    changed = [mouth_psnr(a, b, p) for a, b, p in zip(rendered, source, track.points, strict=True)]
    assert min(changed) < 30, "the mouth is re-rendered"
    eye_y = int(track.points[0][list(ms.RIGHT_EYE + ms.LEFT_EYE), 1].mean())
    kept = [psnr(a[:eye_y], b[:eye_y]) for a, b in zip(rendered, source, strict=True)]
    assert min(kept) > 40, "everything above the eyes is the input's"


@pytest.mark.parametrize("mode", ["standard", "pro"])
def test_same_inputs_give_identical_frames(tmp_path, mode):
    clip, speech = shared_media("woman_flags.mp4"), shared_media("speech_en_b.wav")
    options = RenderOptions(mode=mode, start=1.0, end=2.5, max_fps=12)
    outs = [tmp_path / f"{mode}_{i}.mp4" for i in range(2)]
    summaries = [render(clip, speech, out, options) for out in outs]
    assert summaries[0].mode == mode and summaries[0].frames == 18
    first, second = frames(outs[0]), frames(outs[1])
    assert len(first) == len(second) == 18
    differ = [(k, int(np.abs(a.astype(np.int16) - b).max()))
              for k, (a, b) in enumerate(zip(first, second, strict=True)) if not np.array_equal(a, b)]
    assert not differ, f"(frame, largest pixel difference) where the two renders differ: {differ}"


def test_mouth_that_never_moves_falls_back_to_lite(tmp_path):
    """The generated astronaut glides across the frame with her mouth shut: nothing to re-sequence."""
    video = generate.face_video(tmp_path / "still_mouth.mp4", seconds=1.5, fps=12)
    speech = shared_media("speech_en_a.wav")
    lite = render(video, speech, tmp_path / "lite.mp4", RenderOptions(mode="lite"))
    standard = render(video, speech, tmp_path / "standard.mp4", RenderOptions(mode="standard"))
    assert standard.frames == lite.frames == 18 and standard.frames_with_face == lite.frames_with_face > 0
    assert any("barely moves" in note and "lite" in note for note in standard.notes), standard.notes
    rendered, fallback = frames(tmp_path / "standard.mp4"), frames(tmp_path / "lite.mp4")
    assert all(np.array_equal(a, b) for a, b in zip(rendered, fallback, strict=True)), "lite's own frames"
    _, track = tracked(video)
    mouths = [mouth_psnr(a, b, p) for a, b, p in zip(rendered, frames(video), track.points, strict=True)]
    assert min(mouths) < 30, "the mouth still speaks"


def test_exemplars_know_which_show_teeth(gap_library):
    """woman_flags bares her teeth when she opens (frames 40-42 of the clip): those exemplars
    show teeth; closed ones show none."""
    _, _, library = gap_library
    closed = library.gap < 0.03
    assert closed.any() and (library.teeth[closed] == 0).all()
    assert library.teeth.max() > 0.8
    wide = library.gap > np.percentile(library.gap, 75)
    assert library.teeth[wide].mean() > 0.5


def test_teeth_in_the_speech_choose_exemplars_that_show_them(gap_library, speaking):
    """The same openings, asked to bare the teeth or to hide them, pick exemplars that do."""
    import dataclasses

    from openlipsync.engine.visemes import ARTICULATORS

    _, _, library = gap_library
    targets, _, poses = speaking
    column = ARTICULATORS.index("teeth")
    shown = {}
    for teeth in (0.0, 1.0):
        art = targets.articulation.copy()
        art[:, column] = teeth
        choice = select(library, dataclasses.replace(targets, articulation=art), poses).choice
        open_frames = (choice != LITE) & ~targets.closed
        shown[teeth] = library.teeth[choice[open_frames]].mean()
    assert shown[1.0] > shown[0.0] + 0.1, shown


def test_lips_that_lose_their_colour_are_not_shown(gap_library, speaking):
    """woman_flags presses her lipstick away on a few frames (pale, nearly lipless closed mouths).
    The library marks them, and the selection shows her usual red lips instead, closures included."""
    _, _, library = gap_library
    off = library.off_colour()
    assert 1 <= off.sum() <= 0.1 * len(library)
    usual_lightness = np.median(library.lips[~off, 0])
    assert (library.lips[off, 0] > usual_lightness + 5).all(), "the marked lips are the pale ones"
    targets, _, poses = speaking
    choice = select(library, targets, poses, rest=None).choice
    shown = choice[choice != LITE]
    assert not off[shown].any()
    assert targets.closed[choice != LITE].sum() > 20, "closed mouths were chosen too"


def test_smeared_lips_are_not_shown_where_speech_holds_the_mouth_still(gap_library, speaking):
    """Motion blur smears a mouth over one frame; re-sequenced into a still moment it reads as a soft,
    pale mouth. The exemplars the selection likes best, smeared as a fast move smears them, are
    marked blurred, and where the target mouth holds still in speech the selection turns to sharp
    mouths of about the same shapes. Where it moves fast, blur is what a real mouth shows, and costs
    nothing; in silence the resting mouth is held as before
    (test_silence_rests_on_one_mouth_instead_of_hopping)."""
    import dataclasses

    _, _, library = gap_library
    targets, _, poses = speaking
    assert library.blur().mean() < 0.1, "the clip's own mouths are mostly sharp"
    before = select(library, targets, poses)
    choice = before.choice
    shown, counts = np.unique(choice[choice != LITE], return_counts=True)
    favourites = shown[np.argsort(-counts)[:8]]
    crops = library.crops.copy()
    for e in favourites:
        crops[e] = cv2.blur(crops[e], (1, 15))  # a vertical smear: the jaw moving fast
    smeared = dataclasses.replace(library, crops=crops)
    blur = smeared.blur()
    assert (blur[favourites] > 0.5).all(), blur[favourites]
    again = select(smeared, targets, poses).choice
    still = (np.abs(np.gradient(before.gap)) < 0.005) & targets.speech
    assert np.isin(choice[still], favourites).sum() > 10, "the favourites were shown on still speech frames"
    # A smeared mouth costs as much as missing the target's gap by 0.028: it stays only where the
    # sharp ones are further off (measured: 4 of 20 still speech frames, 66 of 107 frames in all).
    assert np.isin(again[still], favourites).sum() < 0.3 * np.isin(choice[still], favourites).sum()
    assert np.isin(again, favourites).sum() < 0.75 * np.isin(choice, favourites).sum()
    assert (again != LITE).sum() > 0.8 * (choice != LITE).sum(), "sharp exemplars took their place, not lite"


def test_colour_match_ignores_what_is_not_skin_in_the_ring():
    """The exemplar is matched to the light around the mouth, measured on a ring of skin. Where the
    real lips or tongue reach into that ring, the exemplar must not turn red; a change of light
    over the whole ring must still carry over."""
    frame = ms.HeadFrame(origin=np.array([50.0, 50.0]), axes=np.eye(2), scale=60.0)
    skin, red = np.array([200.0, 150.0, 130.0], np.float32), np.array([150.0, 60.0, 70.0], np.float32)
    layer = np.broadcast_to(skin, (100, 100, 3)).astype(np.float32)
    ring = np.zeros((100, 100), np.float32)
    ring[10:90, 10:20] = ring[10:90, 80:90] = ring[10:20, 10:90] = ring[80:90, 10:90] = 1
    under = layer.copy()
    under[80:90, 30:70] = red  # the real lower lip, below the exemplar's
    matched = colour_matched(layer, under, ring, frame.scale)
    assert np.abs(matched - skin).max() < 2, "the real lip tinted the exemplar"
    brighter = layer + 20
    matched = colour_matched(layer, brighter, ring, frame.scale)
    assert np.abs(matched[40:60, 40:60] - (skin + 20)).max() < 2, "a change of light did not carry over"


def test_colour_match_darkens_the_lips_as_the_light_darkens_the_skin():
    """A shadow scales what it falls on: skin at 0.7 of its light puts the exemplar's lips at 0.7
    of theirs, not as many levels down as the brighter skin went (which made lips too dark)."""
    frame = ms.HeadFrame(origin=np.array([50.0, 50.0]), axes=np.eye(2), scale=60.0)
    skin, lips = np.array([200.0, 150.0, 130.0], np.float32), np.array([150.0, 60.0, 70.0], np.float32)
    layer = np.broadcast_to(skin, (100, 100, 3)).astype(np.float32)
    layer[40:60, 30:70] = lips
    ring = np.zeros((100, 100), np.float32)
    ring[10:90, 10:20] = ring[10:90, 80:90] = ring[10:20, 10:90] = ring[80:90, 10:90] = 1
    shade = 0.7
    matched = colour_matched(layer, layer * shade, ring, frame.scale)
    assert np.abs(matched[45:55, 40:60] - lips * shade).max() < 3, matched[50, 50]
    assert np.abs(matched[10:20, 10:90] - skin * shade).max() < 3, matched[15, 50]
