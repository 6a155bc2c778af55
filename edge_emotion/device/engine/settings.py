"""A run's settings as frozen objects, each default defined here once: the CLI takes its option defaults from
these fields, the entry points and the recognizer take the objects whole, and a run records them beside its
events and in its summary.

Each object checks itself when made (one error line that names the flag and its range), so a bad value fails
before a camera opens. Only the standard library is imported: ``edge-emotion --help`` reads these defaults.
"""

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from edge_emotion.errors import EdgeEmotionError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

DETECT_WIDTH = 320  # the default search width: see benchmarks/pipeline_faithfulness.py
PHOTO_WIDTH = 1280  # photos search at their own width up to this
PHOTO_TILT = 25.0  # and turned by +-25 degrees too: see benchmarks/pipeline_faithfulness.py
# and enlarged 1.5 times too: a second look at another scale finds faces the first missed, and together
# with a stricter YuNet score (DETECTOR_SCORES) more faces and fewer false ones are reported
PHOTO_SCALES = (1.0, 1.5)
MAX_TILT = 60.0
MIN_DETECT_WIDTH = 32
# The smallest side searched, and so the smallest frame side: YuNet makes up faces (scores of 1 at
# infinite boxes) in an image of 32 px or less on a side, its coarsest stride; 33 px are still
# wider than the smallest face (MIN_FACE).
MIN_SIDE = 33
MIN_FACE = 24  # frame pixels; a smaller face holds too little for a 48x48 input

# Region tracking's defaults, the cheapest that keep small faces and the real clip's labels: see
# benchmarks/stream_tracking.py
FULL_SEARCH_EVERY = 30  # frames between full searches: a new face appears within a second at 30 FPS
MAX_FULL_SEARCH_EVERY = 1000
FULL_WIDTH = 480  # a full search's width (never wider than the frame)
WINDOW = 128  # a window's side in the detector's input, px (YuNet pads its input to multiples of 32)
MARGIN = 1.3  # a window's side, in face widths: the face about 100 px in the window, where YuNet finds it best
WINDOW_EVERY = 3  # frames between a followed face's windows; between, it moves as it was moving
MAX_WINDOW_EVERY = 10

EVENT_MODES = ("frames", "changes", "all")
PICAM_SIZE = (640, 480)  # the Pi camera module's frames when no --camera-size is given
MAX_CAMERA_SIDE = 8192
MAX_CAMERA_FPS = 240.0
THREADS = 2  # interpreter threads
BENCH_SECONDS = 4.0  # edge-emotion bench's measuring, all stages together, about
BENCH_THREADS = 4  # and the interpreter threads it tries, 1 to this many


class Scores(NamedTuple):
    """A detector's ``min_score`` when none is given: its scores mean something of their own, and photos,
    searched several times (each search can add a false face), take a stricter one."""

    stream: float
    photos: float


DETECTOR_SCORES = {"yunet": Scores(0.7, 0.75), "haar": Scores(0.5, 0.5)}


def check_mode(mode: str) -> None:
    """One of EVENT_MODES: which lines a run's events hold (frames, changes or all)."""
    if mode not in EVENT_MODES:
        raise EdgeEmotionError(f"unknown --events-mode {mode!r}; use one of {', '.join(EVENT_MODES)}")


def parse_size(text: str) -> tuple[int, int]:
    """``--camera-size WIDTHxHEIGHT`` as (width, height); anything else is an error that shows the form."""
    width, x, height = text.strip().lower().partition("x")
    if not (x and width.isascii() and width.isdigit() and height.isascii() and height.isdigit()):
        raise EdgeEmotionError(f"--camera-size {text!r}: give WIDTHxHEIGHT in pixels, e.g. 640x480")
    return int(width), int(height)


def as_json(settings: "DataclassInstance") -> dict:
    """A settings object as JSON values (paths as text, nested objects as objects): what a run records."""
    return json.loads(json.dumps(asdict(settings), default=str))


@dataclass(frozen=True)
class DetectorSettings:
    """Which face detector and how it searches; None takes the default, which differs for ``photos`` (searched
    wide, turned and at two scales: see ``detector.py``) and, for ``min_score``, by detector."""

    name: str = "yunet"
    min_face: int | None = None  # frame pixels; None: MIN_FACE
    min_score: float | None = None  # None: DETECTOR_SCORES
    detect_width: int | None = None  # None: min(DETECT_WIDTH, frame width), photos min(PHOTO_WIDTH, frame width)
    tilt: float | None = None  # degrees; None: 0, photos PHOTO_TILT
    photos: bool = False

    def __post_init__(self) -> None:
        if self.name not in DETECTOR_SCORES:
            raise EdgeEmotionError(f"unknown detector {self.name!r}; choose one of: {', '.join(DETECTOR_SCORES)}")
        if self.detect_width is not None and self.detect_width < MIN_DETECT_WIDTH:
            raise EdgeEmotionError(
                f"--detect-width {self.detect_width} is too small to find a face; use {MIN_DETECT_WIDTH} or more "
                f"(default {DETECT_WIDTH})"
            )
        if self.tilt is not None and not 0.0 <= self.tilt <= MAX_TILT:
            raise EdgeEmotionError(
                f"--tilt {self.tilt:g} is out of range; use 0 (upright only) to {MAX_TILT:g} degrees "
                f"(default {PHOTO_TILT:g} for photos, 0 for camera and video)"
            )
        if self.min_face is not None and self.min_face < 1:
            raise EdgeEmotionError(f"--min-face {self.min_face} is out of range; use 1 or more (default {MIN_FACE})")
        if self.min_score is not None and not 0.0 <= self.min_score <= 1.0:
            raise EdgeEmotionError(f"--min-score {self.min_score:g} is out of range; use 0 to 1")


@dataclass(frozen=True)
class Steadiness:
    """How labels settle: time constant of the average, the lead a new label needs, frames before a face counts."""

    smooth_seconds: float = 0.5
    hysteresis: float = 0.15
    min_frames: int = 3

    def __post_init__(self) -> None:
        if not (math.isfinite(self.smooth_seconds) and 0.0 <= self.smooth_seconds <= 60.0):
            raise EdgeEmotionError(f"smooth seconds must be within 0..60, got {self.smooth_seconds}")
        if not (math.isfinite(self.hysteresis) and 0.0 <= self.hysteresis < 1.0):
            raise EdgeEmotionError(f"hysteresis must be within 0..1 (a probability lead), got {self.hysteresis}")
        if self.min_frames < 1:
            raise EdgeEmotionError(f"min frames must be at least 1, got {self.min_frames}")


@dataclass(frozen=True)
class Regions:
    """How a stream is searched: the whole frame every ``every`` frames at ``full_width`` px (None: the
    detector's own ``detect_width`` when one was given, else FULL_WIDTH; never wider than the frame), and
    each face in a ``window`` px window ``margin`` times its size between, a face followed for a few frames
    only every ``window_every`` frames (moved as it was moving on the frames between)."""

    every: int = FULL_SEARCH_EVERY
    full_width: int | None = None
    window: int = WINDOW
    margin: float = MARGIN
    window_every: int = WINDOW_EVERY

    def __post_init__(self) -> None:
        if (
            isinstance(self.every, bool)
            or not isinstance(self.every, int)
            or not 1 <= self.every <= MAX_FULL_SEARCH_EVERY
        ):
            raise EdgeEmotionError(
                f"--full-search-every {self.every} is out of range; use 1 (every frame) to {MAX_FULL_SEARCH_EVERY} "
                f"frames (default {FULL_SEARCH_EVERY}), or --no-track-regions to search every frame at --detect-width"
            )
        if self.full_width is not None and self.full_width < MIN_SIDE:
            raise EdgeEmotionError(f"a full search's width must be {MIN_SIDE} px or more, got {self.full_width}")
        if not MIN_SIDE <= self.window <= 640:
            raise EdgeEmotionError(f"a window's side must be {MIN_SIDE} to 640 px, got {self.window}")
        if not (math.isfinite(self.margin) and 1.2 <= self.margin <= 4.0):
            raise EdgeEmotionError(f"a window's margin must be 1.2 to 4 face widths, got {self.margin}")
        if not 1 <= self.window_every <= MAX_WINDOW_EVERY:
            raise EdgeEmotionError(f"a window every 1 to {MAX_WINDOW_EVERY} frames, got {self.window_every}")


@dataclass(frozen=True)
class Outputs:
    """What the loop leaves: events (None or -: stdout) as ``events_mode`` says, annotated frames to ``save``
    (never with the frame rate; ``show_fps`` draws it on the window and stream of a live source), a window
    with ``show``, ``landmarks`` drawn; ``max_frames`` stops the run early."""

    events: Path | None = None
    events_mode: str = "all"
    save: Path | None = None
    show: bool = False
    show_fps: bool = True
    landmarks: bool = False
    max_frames: int | None = None

    def __post_init__(self) -> None:
        check_mode(self.events_mode)
        if self.max_frames is not None and self.max_frames < 1:
            raise EdgeEmotionError(f"--max-frames {self.max_frames} is out of range; use 1 or more")


@dataclass(frozen=True)
class RunSettings:
    """Everything ``edge-emotion run`` does, but its secrets (the server's token, the broker's password),
    which are passed apart so that no record of the run holds them.

    One source: ``camera`` (an index or picam; ``camera_size`` and ``fps`` ask it for frames of that size and
    rate, None: its own, picam PICAM_SIZE), ``video`` (replayed at its end with ``loop``; ``realtime``
    plays it at its own frame rate, None: with ``loop`` or ``serve``), ``image`` or ``folder``. ``model`` is a
    shipped model's name or a .tflite file, run with ``threads`` (on an Edge TPU with ``edgetpu``);
    ``largest`` keeps the largest face, ``mirror`` averages each face with its mirror image. A camera or
    video is tracked (``steadiness``; ``calibrate_seconds`` of each new face taken as its neutral face),
    each face followed in a window with ``regions`` (None: every frame searched whole). ``serve``
    (HOST:PORT, a network address only with a token or ``insecure``), ``mqtt`` (tried for ``mqtt_wait``
    seconds) and ``webhook`` get the events too.
    """

    camera: str | None = None
    camera_size: tuple[int, int] | None = None
    fps: float | None = None
    video: Path | None = None
    image: Path | None = None
    folder: Path | None = None
    loop: bool = False
    realtime: bool | None = None
    model: str = "fast"
    threads: int = THREADS
    edgetpu: bool = False
    detector: DetectorSettings = DetectorSettings()
    largest: bool = False
    mirror: bool = False
    steadiness: Steadiness = Steadiness()
    calibrate_seconds: float = 0.0
    regions: Regions | None = Regions()  # streams follow faces in windows: benchmarks/stream_tracking.py
    outputs: Outputs = Outputs()
    serve: str | None = None
    insecure: bool = False
    mqtt: str | None = None
    mqtt_wait: float = 0.0
    webhook: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.calibrate_seconds <= 60.0:
            raise EdgeEmotionError(f"--calibrate takes 0 to 60 seconds, got {self.calibrate_seconds}")
        if (self.camera_size is not None or self.fps is not None) and self.camera is None:
            raise EdgeEmotionError("--camera-size and --fps set up a camera: use them with --camera N or picam")
        if self.camera_size is not None and not all(MIN_SIDE <= side <= MAX_CAMERA_SIDE for side in self.camera_size):
            width, height = self.camera_size
            raise EdgeEmotionError(
                f"--camera-size {width}x{height} is out of range; each side {MIN_SIDE} to {MAX_CAMERA_SIDE} px, "
                f"e.g. {PICAM_SIZE[0]}x{PICAM_SIZE[1]}"
            )
        if self.fps is not None and not (math.isfinite(self.fps) and 0.0 < self.fps <= MAX_CAMERA_FPS):
            raise EdgeEmotionError(f"--fps {self.fps:g} is out of range; use more than 0 and up to {MAX_CAMERA_FPS:g}")
