"""The media layer on real clips and generated fixtures: probe, frames, audio, encoder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from av.video.reformatter import ColorRange, Colorspace

from openlipsync.media.audio import iter_audio
from openlipsync.media.encode import VideoWriter
from openlipsync.media.errors import MediaError
from openlipsync.media.probe import probe_audio_duration, probe_video
from openlipsync.media.quality import psnr
from openlipsync.media.read_ahead import read_ahead
from openlipsync.media.video import output_fps, read_frames
from tests import generate
from tests.conftest import shared_media

# name: (width, height, codec, has_audio, fps, duration) as displayed, from MEDIA.md and ffprobe
SHARED_CLIPS = {
    "man_office_vfr.mp4": (700, 700, "h264", True, 22.13, 6.1),
    "man_map.mp4": (844, 844, "h264", True, 25.0, 5.0),
    "woman_flags.mp4": (590, 590, "h264", True, 25.0, 5.0),
    "woman_indoor.mp4": (512, 512, "mpeg4", True, 25.0, 8.0),
    "man_selfie_portrait_silent.mp4": (720, 1280, "h264", False, 30.0, 11.73),
    "woman_room_landscape.mp4": (1280, 720, "h264", True, 30.0, 9.4),
    "man_kitchen_portrait_hevc.mp4": (1080, 1920, "hevc", True, 25.0, 20.08),
}


def raw_times(path: Path) -> list[float]:
    """Frame times straight from PyAV, relative to the stream start: the reference for 'true timestamps'."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        origin = float((stream.start_time or 0) * stream.time_base)
        return [frame.time - origin for frame in container.decode(stream)]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small generated clips shared by the tests of this module (made once: about 2 s in all)."""
    folder = tmp_path_factory.mktemp("media")
    generate.face_video(folder / "cfr30.mp4", seconds=2.0, fps=30, size=(320, 240))
    generate.face_video(folder / "vfr.mp4", seconds=2.0, fps=25, size=(320, 240), vfr=True)
    generate.speech_wav(folder / "speech.wav", "Bob bought a big map.")
    return folder


# ---- probe and read the real clips ----


@pytest.mark.parametrize("name", sorted(SHARED_CLIPS))
def test_probe_shared_clip(name: str) -> None:
    width, height, codec, has_audio, fps, duration = SHARED_CLIPS[name]
    info = probe_video(shared_media(name))
    assert (info.width, info.height, info.codec, info.has_audio, info.rotation) == (
        width, height, codec, has_audio, 0
    )
    assert info.fps == pytest.approx(fps, abs=0.02)
    assert info.duration == pytest.approx(duration, abs=0.02)
    assert info.frame_count == pytest.approx(duration * fps, abs=2)


@pytest.mark.parametrize("name", sorted(SHARED_CLIPS))
def test_read_shared_clip_second_second(name: str) -> None:
    """Frames in [1, 2): about fps of them, upright at the probed size, times from the trim start."""
    info = probe_video(shared_media(name))
    frames = list(read_frames(shared_media(name), 1.0, 2.0))
    times = [f.time for f in frames]
    assert len(frames) == pytest.approx(info.fps, abs=8 if name.endswith("vfr.mp4") else 0.5)
    assert times[0] == pytest.approx(0.0, abs=1.5 / info.fps) and times[-1] < 1.0
    assert all(b > a for a, b in zip(times, times[1:], strict=False))
    assert [f.index for f in frames] == list(range(len(frames)))
    image = frames[0].image
    assert image.shape == (info.height, info.width, 3) and image.dtype == np.uint8
    assert image.std() > 10  # a real picture, not a blank buffer


def test_vfr_clip_keeps_its_irregular_timestamps() -> None:
    path = shared_media("man_office_vfr.mp4")
    times = [f.time for f in read_frames(path)]
    assert len(times) == 135
    assert times == pytest.approx(raw_times(path), abs=1e-9)
    steps = np.round(np.diff(times), 4)
    assert len(set(steps)) >= 2 and steps.max() >= 1.9 * steps.min()


def test_hevc_portrait_is_upright_1080x1920() -> None:
    frame = next(read_frames(shared_media("man_kitchen_portrait_hevc.mp4")))
    assert frame.image.shape == (1920, 1080, 3)


def test_mpeg4_clip_reads_every_frame() -> None:
    frames = list(read_frames(shared_media("woman_indoor.mp4")))
    assert len(frames) == 200
    assert frames[-1].time == pytest.approx(7.96)


def test_seek_gives_the_same_frames_as_reading_from_the_start() -> None:
    path = shared_media("woman_flags.mp4")
    full = [f for f in read_frames(path) if 2.0 - 1e-6 <= f.time < 3.0]
    part = list(read_frames(path, 2.0, 3.0))
    assert len(part) == len(full) == 25
    for a, b in zip(full, part, strict=True):
        assert b.time == pytest.approx(a.time - 2.0)
        assert np.array_equal(a.image, b.image)


def test_two_reads_are_identical() -> None:
    path = shared_media("man_map.mp4")
    first = [(f.time, f.image) for f in read_frames(path, 0.5, 1.5, max_fps=12)]
    second = [(f.time, f.image) for f in read_frames(path, 0.5, 1.5, max_fps=12)]
    assert len(first) == len(second) == 12
    assert all(ta == tb and np.array_equal(ia, ib) for (ta, ia), (tb, ib) in zip(first, second, strict=True))


# ---- trim and frame-rate limit ----


def test_trim_keeps_frames_in_range_with_times_from_the_trim_start(clips: Path) -> None:
    frames = list(read_frames(clips / "cfr30.mp4", 0.5, 1.5))
    assert len(frames) == 30
    assert [f.time for f in frames] == pytest.approx([k / 30 for k in range(30)], abs=1e-6)


@pytest.mark.parametrize("max_fps", [10, 25, 12.5])
def test_fps_limit_is_an_even_grid_of_the_latest_frame(clips: Path, max_fps: float) -> None:
    full = list(read_frames(clips / "cfr30.mp4"))
    limited = list(read_frames(clips / "cfr30.mp4", max_fps=max_fps))
    assert len(limited) == round(2.0 * max_fps)
    for k, frame in enumerate(limited):
        assert frame.time == pytest.approx(k / max_fps, abs=1e-9)
        source = full[int(k * 30 / max_fps + 1e-6)]  # latest input frame at or before the slot
        assert np.array_equal(frame.image, source.image)


def test_fps_limit_with_trim(clips: Path) -> None:
    frames = list(read_frames(clips / "cfr30.mp4", 1.0, 1.8, max_fps=10))
    assert [round(f.time, 6) for f in frames] == [k / 10 for k in range(8)]


def test_fps_limit_at_or_above_the_input_rate_changes_nothing(clips: Path) -> None:
    info = probe_video(clips / "cfr30.mp4")
    assert output_fps(info, 60) == 30 and output_fps(info, 24) == 24 and output_fps(info, None) == 30
    plain = [f.time for f in read_frames(clips / "cfr30.mp4")]
    assert [f.time for f in read_frames(clips / "cfr30.mp4", max_fps=60)] == plain


def test_fps_limit_turns_vfr_into_a_constant_grid(clips: Path) -> None:
    path = clips / "vfr.mp4"
    vfr_times = [f.time for f in read_frames(path)]
    assert len(set(np.round(np.diff(vfr_times), 4))) == 3  # the generator's 1/3/2 half-period steps
    grid = [f.time for f in read_frames(path, max_fps=10)]
    assert grid == pytest.approx([k / 10 for k in range(20)], abs=1e-9)


# ---- sizes, rotation, containers ----


@pytest.mark.parametrize("codec", ["h264", "mpeg4"])
def test_odd_size_is_cropped_to_even(tmp_path: Path, codec: str) -> None:
    path = generate.face_video(tmp_path / "odd.mp4", seconds=0.4, size=(321, 241), codec=codec)
    info = probe_video(path)
    assert (info.width, info.height) == (320, 240)
    frames = list(read_frames(path))
    assert len(frames) == 10 and all(f.image.shape == (240, 320, 3) for f in frames)
    assert all(f.image.flags.c_contiguous for f in frames)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_metadata_is_applied(tmp_path: Path, rotation: int) -> None:
    upright = generate.face_video(tmp_path / "upright.mp4", seconds=0.2, size=(320, 240))
    turned = generate.face_video(tmp_path / "turned.mp4", seconds=0.2, size=(320, 240), rotation=rotation)
    with av.open(str(turned)) as container:  # the file really is stored turned
        stored = next(container.decode(video=0))
        assert (stored.width, stored.height) == ((240, 320) if rotation != 180 else (320, 240))
        assert stored.rotation != 0
    info = probe_video(turned)
    assert (info.rotation, info.width, info.height) == (rotation, 320, 240)
    a, b = next(read_frames(upright)).image, next(read_frames(turned)).image
    assert b.shape == (240, 320, 3)
    assert psnr(a, b) > 35  # same picture, only coded twice
    assert psnr(a, np.ascontiguousarray(np.rot90(b, 2))) < 25  # and not upside down


@pytest.mark.parametrize(
    ("name", "codec", "container"),
    [
        ("c.mov", "h264", "mov"),
        ("c.webm", "vp9", "webm"),
        ("c.mkv", "h264", "mkv"),
        ("c.avi", "mpeg4", "avi"),
        ("c.mp4", "hevc", "mp4"),
        ("c.ts", "h264", "mpegts"),
    ],
)
def test_containers_and_codecs(tmp_path: Path, clips: Path, name: str, codec: str, container: str) -> None:
    path = generate.face_video(
        tmp_path / name, seconds=1.0, size=(192, 144), codec=codec, container=container,
        audio=clips / "speech.wav",
    )
    info = probe_video(path)
    assert (info.codec, info.has_audio, info.width, info.height) == (codec, True, 192, 144)
    frames = list(read_frames(path))
    assert [round(f.time, 4) for f in frames] == [round(k / 25, 4) for k in range(25)]
    late = list(read_frames(path, 0.48))  # a seek, or for mpeg-ts the fall-back read from the top
    assert len(late) == 13 and late[0].time == pytest.approx(0.0, abs=1e-6)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(late, frames[12:], strict=True))
    audio = np.concatenate(list(iter_audio(path)))
    assert len(audio) / 16000 == pytest.approx(probe_audio_duration(path), abs=0.05)
    assert np.abs(audio).max() > 0.05


# ---- bad input ----


def media_error(call) -> MediaError:
    with pytest.raises(MediaError) as caught:
        result = call()
        if hasattr(result, "__next__"):
            list(result)
    return caught.value


def test_text_file_named_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 50)
    assert media_error(lambda: probe_video(path)).code == "invalid_video_file"
    assert media_error(lambda: read_frames(path)).code == "invalid_video_file"
    assert media_error(lambda: iter_audio(path)).code == "invalid_audio_file"


def test_random_bytes_and_missing_file(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(1).integers(0, 256, 200_000, dtype=np.uint8).tobytes())
    assert media_error(lambda: read_frames(garbage)).code == "invalid_video_file"
    assert media_error(lambda: probe_video(tmp_path / "absent.mp4")).code == "invalid_video_file"
    assert media_error(lambda: probe_audio_duration(tmp_path / "absent.wav")).code == "invalid_audio_file"


def test_truncated_mp4_without_its_index_is_rejected(clips: Path, tmp_path: Path) -> None:
    data = (clips / "cfr30.mp4").read_bytes()  # the generator writes the index (moov) at the end
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    assert media_error(lambda: read_frames(cut)).code == "invalid_video_file"


def test_truncated_faststart_mp4_yields_the_frames_that_decode(clips: Path, tmp_path: Path) -> None:
    whole = tmp_path / "whole.mp4"
    with VideoWriter(whole, 320, 240, 30) as writer:  # +faststart: index first, then the data
        for frame in read_frames(clips / "cfr30.mp4"):
            writer.write(frame.image, frame.time)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    frames = list(read_frames(cut))
    assert 5 <= len(frames) < 60


def test_audio_file_is_not_a_video_and_a_silent_video_has_no_audio() -> None:
    assert media_error(lambda: probe_video(shared_media("speech_en_a.wav"))).code == "invalid_video_file"
    silent = shared_media("man_selfie_portrait_silent.mp4")
    assert media_error(lambda: iter_audio(silent)).code == "invalid_audio_file"
    assert media_error(lambda: probe_audio_duration(silent)).code == "invalid_audio_file"


@pytest.mark.parametrize(
    ("start", "end", "max_fps"),
    [(1.0, 1.0, None), (1.5, 1.0, None), (5.0, None, None), (-1.0, None, None), (0.0, None, 0.0),
     (0.01, 0.02, None)],
)
def test_empty_or_bad_range(clips: Path, start: float, end: float | None, max_fps: float | None) -> None:
    error = media_error(lambda: read_frames(clips / "cfr30.mp4", start, end, max_fps))
    assert error.code == "invalid_parameters"


# ---- audio ----


def test_iter_audio_wav_is_the_channel_mean_in_chunks() -> None:
    path = shared_media("speech_en_a.wav")  # 8 s, 16 kHz stereo
    chunks = list(iter_audio(path))
    assert [len(c) for c in chunks] == [80000, 48000]
    assert all(c.dtype == np.float32 and np.abs(c).max() <= 1.0 for c in chunks)
    with wave.open(str(path)) as source:
        pcm = np.frombuffer(source.readframes(16000), np.int16).reshape(-1, 2) / 32768.0
    np.testing.assert_allclose(chunks[0][:16000], pcm.mean(axis=1), atol=1e-4)


def test_iter_audio_start_and_duration_are_sample_exact() -> None:
    path = shared_media("speech_en_a.wav")
    full = np.concatenate(list(iter_audio(path)))
    part = np.concatenate(list(iter_audio(path, start=1.25, duration=0.5, chunk_seconds=0.2)))
    assert len(part) == 8000
    np.testing.assert_array_equal(part, full[20000:28000])


def test_iter_audio_mp3_resampled() -> None:
    path = shared_media("speech_en_33s.mp3")  # 48 kHz mono
    chunks = list(iter_audio(path, rate=8000, start=10.0, duration=2.0, chunk_seconds=1.0))
    assert [len(c) for c in chunks] == [8000, 8000]
    assert np.sqrt(np.mean(np.concatenate(chunks) ** 2)) > 0.01  # speech, not silence


def test_iter_audio_of_a_video_track_and_audio_durations() -> None:
    samples = sum(len(c) for c in iter_audio(shared_media("man_map.mp4")))
    assert samples / 16000 == pytest.approx(5.015, abs=0.01)
    assert probe_audio_duration(shared_media("man_map.mp4")) == pytest.approx(5.015, abs=0.01)
    assert probe_audio_duration(shared_media("speech_en_33s.mp3")) == pytest.approx(32.88, abs=0.01)
    assert probe_audio_duration(shared_media("speech_de.wav")) == pytest.approx(9.3427, abs=0.001)


def test_generated_speech_matches_its_phoneme_timing(tmp_path: Path) -> None:
    timing = generate.speech_wav(tmp_path / "s.wav", "Papa")
    assert timing["phonemes"]
    assert timing["duration"] == pytest.approx(probe_audio_duration(tmp_path / "s.wav"), abs=1e-4)
    silence = generate.silence_wav(tmp_path / "quiet.wav", 1.5)
    audio = np.concatenate(list(iter_audio(silence)))
    assert len(audio) == 24000 and not audio.any()


# ---- encoder ----


def encode_clip(source: Path, out: Path, **kwargs) -> list:
    frames = list(read_frames(source))
    info = probe_video(source)
    with VideoWriter(out, info.width, info.height, info.fps, **kwargs) as writer:
        for frame in frames:
            writer.write(frame.image, frame.time)
    return frames


def test_writer_round_trip_with_longer_audio_cut(clips: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    speech = shared_media("speech_en_a.wav")
    frames = encode_clip(clips / "cfr30.mp4", out, audio_path=speech, audio_start=1.0)
    info = probe_video(out)
    assert (info.width, info.height, info.codec, info.frame_count) == (320, 240, "h264", 60)
    assert info.duration == pytest.approx(2.0, abs=1e-3)
    assert probe_audio_duration(out) == pytest.approx(2.0, abs=0.025)
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
        assert container.streams.audio[0].codec_context.name == "aac"
    back = list(read_frames(out))
    assert len(back) == 60 and min(psnr(a.image, b.image) for a, b in zip(frames, back, strict=True)) > 38
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart
    # the audio is the source from 1.0 s on
    source = np.concatenate(list(iter_audio(speech, start=1.0, duration=2.0)))
    written = np.concatenate(list(iter_audio(out)))[: len(source)]
    assert np.corrcoef(source[800:-800], written[800 : len(source) - 800])[0, 1] > 0.9


@pytest.mark.parametrize("size", [(590, 590), (588, 590), (590, 586), (588, 588)])
def test_writer_keeps_pixels_and_size_at_any_even_size(tmp_path: Path, size: tuple[int, int]) -> None:
    """woman_flags.mp4 is 590x590 (half the width odd: chroma rows of 295 px); 588x590 is a height
    not divisible by 4, like 1080x1350. Every (width, height) must come back as it went in."""
    width, height = size
    source = [f.image[:height, :width].copy() for f in read_frames(shared_media("woman_flags.mp4"), 0.0, 0.4)]
    out = tmp_path / "out.mp4"
    with VideoWriter(out, width, height, 25) as writer:
        for k, image in enumerate(source):
            writer.write(image, k / 25)
    back = [f.image for f in read_frames(out)]
    assert len(back) == len(source) and back[0].shape == (height, width, 3)
    assert min(psnr(a, b) for a, b in zip(source, back, strict=True)) > 38


def test_full_range_yuv_reads_as_it_was_written(tmp_path: Path) -> None:
    """VP9 (browser and screen recordings) flags full range (0-255) on plain yuv420p, where H.264
    decodes to the yuvj format. Read as limited range, its blacks crush and its whites clip: the
    frame must come back as it went in."""
    ramp = np.linspace(0, 255, 128)
    image = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], 255 - ramp[None, :]), -1)
    image = np.ascontiguousarray(image[:96].astype(np.uint8))
    path = tmp_path / "full.webm"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libvpx-vp9", rate=25)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        stream.codec_context.color_range = ColorRange.JPEG
        stream.options = {"lossless": "1"}
        for k in range(3):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(
                format="yuv420p", dst_colorspace=Colorspace.ITU601, dst_color_range=ColorRange.JPEG)
            frame.pts = k
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    back = [f.image for f in read_frames(path)]
    assert len(back) == 3 and min(psnr(image, b) for b in back) > 35


_ENCODE_TWICE = """
import hashlib, sys, av
from openlipsync.media.encode import VideoWriter
from openlipsync.media.video import read_frames
images = [f.image[:, :590] for f in read_frames(sys.argv[1], 0.0, 1.0)]
with VideoWriter(sys.argv[2], 590, images[0].shape[0], 25, audio_path=sys.argv[1]) as writer:
    for k, image in enumerate(images):
        writer.write(image.copy(), k / 25)
with av.open(sys.argv[2]) as container:
    print(hashlib.sha256(b"".join(bytes(p) for p in container.demux(video=0))).hexdigest())
"""


def test_same_frames_encode_to_the_same_bits_whatever_the_heap_held(tmp_path: Path) -> None:
    """Two processes whose fresh heap memory holds different bytes (glibc's MALLOC_PERTURB_) must
    write the same video. x264's AVX-512 code reads memory it never wrote (B-frames or not) and
    failed this with small fills, which it reads as large numbers; 85 and 170 happened to pass."""
    digests = set()
    clip = str(shared_media("woman_room_landscape.mp4"))
    for fill in ("1", "2"):
        env = {**os.environ, "MALLOC_PERTURB_": fill}
        done = subprocess.run([sys.executable, "-c", _ENCODE_TWICE, clip, str(tmp_path / f"out{fill}.mp4")],
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        digests.add(done.stdout.strip())
    assert len(digests) == 1, digests


def test_writer_pads_shorter_audio_with_silence(clips: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    encode_clip(clips / "cfr30.mp4", out, audio_path=clips / "speech.wav")
    speech_seconds = probe_audio_duration(clips / "speech.wav")
    assert speech_seconds < 1.8
    assert probe_audio_duration(out) == pytest.approx(2.0, abs=0.025)
    audio = np.concatenate(list(iter_audio(out)))
    assert np.abs(audio[: int(speech_seconds * 8000)]).max() > 0.05
    assert np.abs(audio[int((speech_seconds + 0.05) * 16000) :]).max() < 0.01


def test_writer_pads_silence_alongside_the_video(tmp_path: Path) -> None:
    """Audio that ends early is padded as the video goes, not all at close. Padded at close, the
    silence of a long clip was one array in memory, and the muxer, which interleaves by time,
    held every video packet after the audio's end in memory until then: the file stopped growing."""
    out, seconds, rng = tmp_path / "out.mp4", 15.0, np.random.default_rng(0)
    with VideoWriter(out, 96, 96, 30.0, audio_path=generate.silence_wav(tmp_path / "a.wav", 1.0)) as writer:
        for k in range(int(seconds * 30)):
            writer.write(rng.integers(0, 256, (96, 96, 3), np.uint8), k / 30)
        writer.write(rng.integers(0, 256, (96, 96, 3), np.uint8), seconds)
        time.sleep(0.5)  # the encoder thread catches up with the queue
        (partial,) = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
        written = partial.stat().st_size
    assert probe_audio_duration(out) == pytest.approx(seconds + 1 / 30, abs=0.03)
    assert written > 0.7 * out.stat().st_size, f"{written} of {out.stat().st_size} bytes written before close"


def test_writer_keeps_vfr_timestamps_and_adds_no_audio_without_a_source(clips: Path, tmp_path: Path) -> None:
    out = tmp_path / "vfr_out.mp4"
    frames = encode_clip(clips / "vfr.mp4", out)
    assert [f.time for f in read_frames(out)] == pytest.approx([f.time for f in frames], abs=1e-4)
    assert not probe_video(out).has_audio


def test_writer_leaves_nothing_behind_on_error(tmp_path: Path) -> None:
    image = np.zeros((48, 64, 3), np.uint8)
    with pytest.raises(RuntimeError), VideoWriter(tmp_path / "a.mp4", 64, 48, 25) as writer:
        for k in range(10):
            writer.write(image, k / 25)
        raise RuntimeError("renderer failed")
    with pytest.raises(ValueError), VideoWriter(tmp_path / "b.mp4", 64, 48, 25):
        pass  # closing without a frame fails
    with pytest.raises(ValueError), VideoWriter(tmp_path / "c.mp4", 64, 48, 25) as writer:
        writer.write(image, 0.0)
        writer.write(image, 0.0)  # time does not increase
    with pytest.raises(ValueError), VideoWriter(tmp_path / "d.mp4", 64, 48, 25) as writer:
        writer.write(np.zeros((48, 66, 3), np.uint8), 0.0)
    assert list(tmp_path.iterdir()) == []


def test_writer_with_a_broken_audio_source_creates_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    with pytest.raises(MediaError) as caught:
        VideoWriter(tmp_path / "out.mp4", 64, 48, 25, audio_path=bad)
    assert caught.value.code == "invalid_audio_file"
    assert list(tmp_path.iterdir()) == [bad]


def test_read_ahead_passes_items_and_errors_and_stops_with_its_consumer() -> None:
    produced: list[int] = []
    closed: list[bool] = []

    def items(fail_at: int | None = None):
        try:
            for i in range(100):
                if i == fail_at:
                    raise MediaError("invalid_video_file", f"broken at {i}")
                produced.append(i)
                yield i
        finally:
            closed.append(True)

    assert list(read_ahead(items(), depth=3)) == list(range(100))
    with pytest.raises(MediaError, match="broken at 7"):
        list(read_ahead(items(fail_at=7), depth=3))
    produced.clear()
    reader = read_ahead(items(), depth=3)
    assert [next(reader) for _ in range(5)] == list(range(5))
    reader.close()  # the consumer stops early: the producer stops too and closes its source
    assert len(produced) <= 5 + 3 + 1 and closed == [True, True, True]
