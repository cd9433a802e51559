"""What a caller asks of a render, what it gets back, and how it hears about progress."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

Mode = Literal["lite", "standard", "pro"]
AudioLonger = Literal["cut", "loop", "pingpong"]

#: ``progress(stage, done, total)``; stages are "tracking", "speech", "rendering".
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class FacePick:
    """Whose mouth to re-animate, when the user says rather than the engine choosing.

    Either a point in input-frame pixels that lies on that person's face (at ``time`` seconds
    into the input, or, without a time, on the first frame where that person appears), or the
    person's ``index`` as the render's notes number them (0 is the first person to appear).
    """

    x: float | None = None
    y: float | None = None
    time: float | None = None
    index: int | None = None

    def __post_init__(self) -> None:
        by_point = self.x is not None and self.y is not None
        if by_point == (self.index is not None) or (self.x is None) != (self.y is None):
            raise ValueError("a face is picked by a point (x and y) or by an index, not both or neither")
        if self.index is not None and self.index < 0:
            raise ValueError(f"a face index is 0 or more, got {self.index}")


@dataclass(frozen=True)
class RenderOptions:
    mode: Mode = "lite"
    start: float = 0.0
    #: None renders to the end of the clip.
    end: float | None = None
    #: None keeps the input frame rate; otherwise output fps = min(input fps, max_fps).
    max_fps: float | None = None
    #: What to do when the audio outlasts the clip: cut it, or repeat the clip.
    audio_longer: AudioLonger = "cut"
    #: x264 quality; None picks the highest CRF that keeps the input's pixels (media.quality).
    crf: int | None = None
    preset: str = "veryfast"
    #: A clip of the same person speaking in sync with its own audio, to learn how their mouth
    #: moves (engine.calibration). None learns it from the input's own speech where that follows
    #: the mouth; the new audio is never compared with it.
    calibration_video: str | None = None
    #: The real-mouth readout's file (engine.readout); None is the one the package ships. The
    #: re-enactment benchmark names each clip's held-out readout, fitted without that clip.
    readout: str | None = None
    #: The front end's network file (engine.phonetics); None is the one the package ships. The
    #: re-enactment benchmark names each clip's held-out network, tuned without that clip.
    visemes: str | None = None
    #: Whom to re-animate; None lets the engine choose (engine.people): the face whose mouth
    #: moves with the input's own speech, else the most prominent one.
    face: FacePick | None = None


@dataclass
class RenderSummary:
    frames: int
    fps: float
    seconds: float
    width: int
    height: int
    frames_with_face: int
    mode: Mode
    #: The x264 CRF the output was encoded with.
    crf: int
    elapsed_s: float
    #: The range of the input rendered: the one asked for, its end clipped to the clip's length.
    start_seconds: float = 0.0
    end_seconds: float = 0.0
    #: People (faces grouped across frames and shots) and shots the tracking pass found, and the
    #: index of the one re-animated (None when nobody was).
    people: int = 0
    shots: int = 1
    speaker: int | None = None
    #: Seconds spent per stage, for benchmarks and the CLI's --json.
    stage_seconds: dict[str, float] = field(default_factory=dict)
    #: Human-readable notes, e.g. "no face found: output is the input with the new audio".
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def no_progress(stage: str, done: int, total: int) -> None:
    """Default progress sink."""
