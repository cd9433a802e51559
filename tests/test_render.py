"""End-to-end renders: real clips and generated fixtures in, playable mp4 with the new speech out."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from openlipsync.engine import mouth_shape as ms
from openlipsync.engine.face_track import track_faces
from openlipsync.engine.options import RenderOptions
from openlipsync.engine.people import track_people
from openlipsync.engine.render import render
from openlipsync.engine.schedule import plan, play
from openlipsync.media.errors import MediaError
from openlipsync.media.probe import Colour, probe_video
from openlipsync.media.quality import psnr
from openlipsync.media.video import read_frames
from tests import generate
from tests.conftest import shared_media
from tests.media_checks import frames


def probe(path: Path) -> dict:
    """What a player would see: frame times, size, audio length."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        times = [float(f.pts * video.time_base) for f in container.decode(video)]
    with av.open(str(path)) as container:
        audio = 0.0
        if container.streams.audio:
            stream = container.streams.audio[0]
            audio = sum(f.samples for f in container.decode(stream)) / stream.rate
        size = (container.streams.video[0].width, container.streams.video[0].height)
    return {"times": np.array(times), "size": size, "audio_seconds": audio}


def test_real_clip_gets_new_speech_and_keeps_everything_else(tmp_path):
    clip, speech = shared_media("woman_flags.mp4"), shared_media("speech_en_a.wav")
    out = tmp_path / "out.mp4"
    summary = render(clip, speech, out, RenderOptions(end=2.0, max_fps=12))
    seen = probe(out)
    assert summary.frames == len(seen["times"]) == 24
    assert summary.frames_with_face == summary.frames
    assert seen["size"] == (590, 590)
    assert seen["audio_seconds"] == pytest.approx(2.0, abs=0.05)
    assert np.allclose(np.diff(seen["times"]), 1 / 12, atol=1e-3)

    # The top of the frame (above the nose) is the input's, up to the encoder's loss.
    source = {round(f.time * 12): f.image for f in _decoded(clip, 0.0, 2.0, 12)}
    rendered = frames(out)
    for k in (0, 11, 23):
        assert psnr(rendered[k][:220], source[k][:220]) > 38


def _decoded(path, start, end, max_fps):
    return list(read_frames(path, start, end, max_fps))


def test_silence_closes_the_mouth_that_speech_opens(tmp_path):
    clip = shared_media("woman_flags.mp4")
    quiet, loud = tmp_path / "quiet.wav", tmp_path / "loud.wav"
    generate.silence_wav(quiet, 3.0)
    generate.speech_wav(loud, "Far away, papa saw a large yacht and a lot of cars.")
    gaps = {}
    for name, audio in (("quiet", quiet), ("loud", loud)):
        out = tmp_path / f"{name}.mp4"
        render(clip, audio, out, RenderOptions(end=3.0, max_fps=10))
        images = frames(out)
        track = track_faces(images, images[0].shape[1], images[0].shape[0])
        gaps[name] = np.array([ms.inner_gap(p) for p, ok in zip(track.points, track.ok, strict=True) if ok])
    assert len(gaps["quiet"]) >= 25 and len(gaps["loud"]) >= 25
    assert np.percentile(gaps["quiet"], 90) < 0.06, "silence must leave the lips (nearly) together"
    assert gaps["loud"].max() > gaps["quiet"].max() + 0.08, "speech must open the mouth"


def _padded_speech(path: Path, text: str, pad: float = 0.5) -> list[tuple[float, float, str]]:
    """espeak speech with ``pad`` seconds of silence before it; returns the shifted phoneme times."""
    raw = path.with_suffix(".raw.wav")
    timing = generate.speech_wav(raw, text)
    with wave.open(str(raw)) as src:
        params, samples = src.getparams(), src.readframes(src.getnframes())
    with wave.open(str(path), "wb") as dst:
        dst.setparams(params)
        dst.writeframes(b"\0" * (int(pad * params.framerate) * params.sampwidth) + samples)
    return [(s + pad, e + pad, name) for s, e, name in timing["phonemes"]]


def test_bilabials_close_and_open_vowels_open(tmp_path):
    """espeak's own phoneme times: lips meet on p/b/m, the mouth opens on open vowels."""
    clip, speech = shared_media("man_map.mp4"), tmp_path / "speech.wav"
    phonemes = _padded_speech(speech, "Bob bought a big map. Papa might buy more.")
    out = tmp_path / "out.mp4"
    render(clip, speech, out, RenderOptions(end=5.0))
    seen = probe(out)
    images = frames(out)
    track = track_faces(images, images[0].shape[1], images[0].shape[0])
    lead = 0.04  # the mouth shows a sound this much before it is heard

    def gap_at(t: float) -> float:
        k = int(np.argmin(np.abs(seen["times"] + lead - t)))
        return ms.inner_gap(track.points[k]) if track.ok[k] else float("nan")

    def gaps_on(names: tuple[str, ...]) -> list[float]:
        return [gap_at((s + e) / 2) for s, e, name in phonemes if name in names and e < 5.0]

    bilabial = gaps_on(("p", "b", "m"))
    vowels = gaps_on(("a", "aa", "A:", "aI", "aU", "0", "O:"))
    assert len(bilabial) >= 5 and len(vowels) >= 4
    assert np.nanmedian(bilabial) < 0.06
    assert np.nanmedian(vowels) > np.nanmedian(bilabial) + 0.06


def test_face_leaving_the_frame_passes_through_untouched(tmp_path):
    clip, speech, out = tmp_path / "leave.mp4", tmp_path / "speech.wav", tmp_path / "out.mp4"
    generate.face_video(clip, seconds=3.0, fps=15, leave_frame=True)
    generate.speech_wav(speech, "Hello there, how are you doing today, my friend?")
    summary = render(clip, speech, out)
    assert 0 < summary.frames_with_face < summary.frames
    assert any("no usable face" in note for note in summary.notes)
    source = _decoded(clip, 0.0, None, None)
    rendered = frames(out)
    assert len(rendered) == len(source) == summary.frames
    cast = track_people([f.image for f in source], source[0].image.shape[1], source[0].image.shape[0])
    assert len(cast.people) == 1, "the face that left and came back is one person"
    for k in np.flatnonzero(~cast.track(cast.people[0]).ok):
        assert psnr(rendered[k], source[k].image) > 40, f"frame {k} had no face and must stay as it was"


def test_clip_without_a_face_is_the_input_with_new_audio(tmp_path):
    clip, speech, out = tmp_path / "empty.mp4", tmp_path / "speech.wav", tmp_path / "out.mp4"
    generate.face_video(clip, seconds=2.0, fps=10, no_face=True)
    generate.speech_wav(speech, "Nobody is here.")
    summary = render(clip, speech, out)
    assert summary.frames_with_face == 0
    assert any("no face" in note for note in summary.notes)
    assert probe(out)["audio_seconds"] == pytest.approx(2.0, abs=0.05)
    for a, b in zip(frames(out), [f.image for f in _decoded(clip, 0.0, None, None)], strict=True):
        assert psnr(a, b) > 40


def test_variable_frame_rate_keeps_true_timestamps(tmp_path):
    clip, out = shared_media("man_office_vfr.mp4"), tmp_path / "out.mp4"
    render(clip, shared_media("speech_en_b.wav"), out, RenderOptions(end=2.0))
    source = np.array([f.time for f in _decoded(clip, 0.0, 2.0, None)])
    times = probe(out)["times"]
    assert len(times) == len(source)
    assert np.allclose(times - times[0], source - source[0], atol=2e-3)
    assert np.ptp(np.diff(times)) > 0.01, "the input's irregular spacing must survive"


def test_hevc_portrait_with_a_small_face(tmp_path):
    out = tmp_path / "out.mp4"
    summary = render(shared_media("man_kitchen_portrait_hevc.mp4"), shared_media("speech_en_20s.wav"), out,
                     RenderOptions(start=2.0, end=3.0, max_fps=8))
    assert probe(out)["size"] == (1080, 1920)
    assert summary.frames == 8 and summary.frames_with_face >= 6


def test_input_video_without_audio_track(tmp_path):
    out = tmp_path / "out.mp4"
    summary = render(shared_media("man_selfie_portrait_silent.mp4"), shared_media("speech_en_a.wav"), out,
                     RenderOptions(end=1.0, max_fps=10))
    assert summary.frames == 10
    assert probe(out)["audio_seconds"] == pytest.approx(1.0, abs=0.05)


def test_audio_shorter_than_clip_is_padded_with_silence(tmp_path):
    speech, out = tmp_path / "short.wav", tmp_path / "out.mp4"
    generate.speech_wav(speech, "Hi.")
    summary = render(shared_media("woman_flags.mp4"), speech, out, RenderOptions(end=3.0, max_fps=10))
    assert summary.seconds == pytest.approx(3.0, abs=0.01)
    assert probe(out)["audio_seconds"] == pytest.approx(3.0, abs=0.05)


@pytest.mark.parametrize("policy", ["cut", "loop", "pingpong"])
def test_audio_longer_than_clip(tmp_path, policy):
    out = tmp_path / "out.mp4"
    clip = shared_media("woman_flags.mp4")
    summary = render(clip, shared_media("speech_en_a.wav"), out,
                     RenderOptions(end=1.0, max_fps=10, audio_longer=policy))
    seen = probe(out)
    expected = 1.0 if policy == "cut" else 8.0
    assert summary.seconds == pytest.approx(expected, abs=0.11)
    assert seen["audio_seconds"] == pytest.approx(expected, abs=0.12)
    assert len(seen["times"]) == summary.frames
    if policy != "cut":
        rendered = frames(out)
        source = [f.image for f in _decoded(clip, 0.0, 1.0, 10)]
        # Output frame 11 is the clip's frame 1 again (loop) or its frame 7 on the way back (pingpong:
        # 0..9, then 8, 7, ...).
        again = source[1] if policy == "loop" else source[7]
        top = slice(0, 200)
        assert psnr(rendered[11][top], again[top]) > 36


def test_replayed_frames_are_the_input_however_the_renderer_paints_on_them():
    """Pingpong replays frames from its cache; the renderer pastes into every frame it gets, so a
    replay must not carry the mouth painted on the frame's earlier showing."""
    schedule = plan(np.arange(4) / 10, 0.4, 2.0, "pingpong")
    inputs = [np.full((2, 2, 3), i, np.uint8) for i in range(4)]
    shown = 0
    for index, image in zip(schedule.source, play(schedule, lambda: (i.copy() for i in inputs)), strict=True):
        assert (image == inputs[index]).all()
        image[:] = 255
        shown += 1
    assert shown == len(schedule.source) > 3 * len(inputs)


def test_trim_and_frame_rate_limit(tmp_path):
    out = tmp_path / "out.mp4"
    summary = render(shared_media("man_map.mp4"), shared_media("speech_en_b.wav"), out,
                     RenderOptions(start=1.0, end=2.5, max_fps=10))
    seen = probe(out)
    assert summary.frames == len(seen["times"]) == 15
    assert summary.fps == pytest.approx(10.0)
    assert seen["audio_seconds"] == pytest.approx(1.5, abs=0.05)


def _assert_rejected(tmp_path, video, audio, code, options=None):
    out = tmp_path / "out.mp4"
    with pytest.raises(MediaError) as caught:
        render(video, audio, out, options or RenderOptions())
    assert caught.value.code == code and caught.value.message
    assert not out.exists()
    assert list(tmp_path.glob("out*")) == [], "no partial output may be left behind"


def test_bad_inputs_get_clear_errors_and_leave_nothing(tmp_path):
    speech = shared_media("speech_en_a.wav")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 100)
    _assert_rejected(tmp_path, text, speech, "invalid_video_file")

    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(shared_media("man_map.mp4").read_bytes()[:2000])
    _assert_rejected(tmp_path, truncated, speech, "invalid_video_file")

    silent_video = shared_media("man_selfie_portrait_silent.mp4")
    _assert_rejected(tmp_path, shared_media("man_map.mp4"), silent_video, "invalid_audio_file")
    _assert_rejected(tmp_path, shared_media("man_map.mp4"), text, "invalid_audio_file")

    for start, end in ((2.0, 2.0), (3.0, 1.0), (60.0, None)):
        _assert_rejected(tmp_path, shared_media("man_map.mp4"), speech, "invalid_parameters",
                         RenderOptions(start=start, end=end))


def test_cli_renders_with_json_summary_and_fails_in_one_line(tmp_path):
    out = tmp_path / "out.mp4"
    cmd = [sys.executable, "-m", "openlipsync.cli", "render", str(shared_media("man_map.mp4")),
           str(shared_media("speech_en_b.wav")), "-o", str(out), "--end", "1", "--max-fps", "10", "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["frames"] == 10 and summary["frames_with_face"] == 10 and out.exists()

    bad = [sys.executable, "-m", "openlipsync.cli", "render", str(tmp_path / "missing.mp4"),
           str(shared_media("speech_en_b.wav")), "-o", str(tmp_path / "bad.mp4"), "-q"]
    done = subprocess.run(bad, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "invalid_video_file" in lines[0], done.stderr


def test_a_frame_that_cannot_be_rendered_is_kept_not_fatal(tmp_path, monkeypatch):
    """A degenerate face on one frame must cost that frame's re-animation, never the job."""
    import cv2

    from openlipsync.engine.lite import LiteRenderer

    real = LiteRenderer.render

    def flaky(self, image, points, k):
        if k == 3:
            raise cv2.error("degenerate geometry")
        return real(self, image, points, k)

    monkeypatch.setattr(LiteRenderer, "render", flaky)
    clip, out = shared_media("man_map.mp4"), tmp_path / "out.mp4"
    summary = render(clip, shared_media("speech_en_b.wav"), out, RenderOptions(end=1.0, max_fps=10))
    assert summary.frames == 10 and summary.frames_with_face == 9
    assert any("could not be re-rendered" in note for note in summary.notes)
    source = _decoded(clip, 0.0, 1.0, 10)
    assert psnr(frames(out)[3], source[3].image) > 40


def test_notes_say_when_the_inside_of_the_mouth_is_painted(tmp_path):
    """woman_room_landscape.mp4's mouth never opens: the teeth and tongue lite shows are painted, and
    the user is told. woman_flags.mp4 shows her open mouth, which lite uses: no such note."""
    speech = shared_media("speech_en_a.wav")
    closed = render(shared_media("woman_room_landscape.mp4"), speech, tmp_path / "room.mp4",
                    RenderOptions(mode="lite", end=1.0))
    assert any("never shows" in note and "painted" in note for note in closed.notes), closed.notes
    talking = render(shared_media("woman_flags.mp4"), speech, tmp_path / "flags.mp4",
                     RenderOptions(mode="lite", end=2.0))
    assert talking.frames_with_face > 0
    assert not any("painted" in note for note in talking.notes), talking.notes


def _shown(path: Path, count: int) -> list[np.ndarray]:
    """The first ``count`` frames as a player that reads the colour tags shows them (PyAV's own
    conversion follows the stream's matrix and range; the engine's reader does not need to)."""
    with av.open(str(path)) as container:
        shown = []
        for frame in container.decode(video=0):
            shown.append(frame.to_ndarray(format="rgb24").astype(np.float64))
            if len(shown) == count:
                return shown
    return shown


def test_a_bt709_clip_comes_back_tagged_as_it_was_and_shows_the_same_colours(tmp_path):
    """woman_room_landscape.mp4 is an HD clip tagged BT.709. Untagged, the output was shown through
    BT.601 by a player that reads tags: the whole picture shifted in hue, lips included."""
    clip = shared_media("woman_room_landscape.mp4")
    out = tmp_path / "room.mp4"
    render(clip, shared_media("speech_en_a.wav"), out, RenderOptions(mode="lite", end=0.5))
    assert probe_video(out).colour == probe_video(clip).colour == Colour(matrix=1, primaries=1, transfer=1)
    for before, after in zip(_shown(clip, 5), _shown(out, 5), strict=True):
        # Coloured pixels (a third of the frame), where the two matrices disagree most: untagged,
        # they shifted by 2.4-3.5 levels on average in red and green; tagged, by at most 0.35.
        coloured = np.ptp(before, axis=2) > 40
        shift = np.abs((after[coloured] - before[coloured]).mean(axis=0))
        assert coloured.mean() > 0.2 and shift.max() < 1.0, shift
