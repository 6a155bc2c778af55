"""Stand-ins for a camera and a face detector, generated faces and a tiny architecture, and the checks
the test modules share, so tests need no hardware, data set or each other."""

import csv
import json
import re
import signal
import time
from pathlib import Path

import cv2
import numpy as np
from typer.testing import Result

from edge_emotion.device.engine.detector import Detection
from edge_emotion.device.io.sources import CaptureSource
from edge_emotion.labels import CLASS_NAMES


class FakeCapture:
    """cv2.VideoCapture's interface over generated frames; ``fail_after`` frames, then reads fail."""

    def __init__(self, frames: int, fail_after: int | None = None, opened: bool = True, delay: float = 0.0) -> None:
        self.frames, self.fail_after, self.opened, self.read_count = frames, fail_after, opened, 0
        self.delay = delay  # seconds per frame, as a real camera paces its frames

    def isOpened(self) -> bool:
        return self.opened

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.read_count >= self.frames or (self.fail_after is not None and self.read_count >= self.fail_after):
            return False, None
        self.read_count += 1
        time.sleep(self.delay)
        return True, np.full((120, 160, 3), 90, np.uint8)

    def get(self, prop: int) -> float:
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self) -> None:
        self.opened = False


class ScriptedDetector:
    """One face per frame, with five landmarks, in a box that drifts a pixel a frame for ``drift``
    frames and jumps back (0: a still face); none on the frames listed in ``empty``."""

    LANDMARKS = ((15, 20), (45, 20), (30, 35), (18, 48), (42, 48))  # relative to the box's corner

    def __init__(self, empty: set[int] = frozenset(), drift: int = 40) -> None:
        self.empty, self.drift, self.calls = empty, drift, 0

    def detect(self, frame: np.ndarray) -> list[Detection]:
        index, self.calls = self.calls, self.calls + 1
        x, y = 20 + (index % self.drift if self.drift else 0), 20
        landmarks = tuple((float(x + dx), float(y + dy)) for dx, dy in self.LANDMARKS)
        return [] if index in self.empty else [Detection((x, y, 60, 60), 0.9, landmarks)]


def default_stop_signals() -> None:
    """A child process's Ctrl-C, SIGHUP and SIGTERM as a terminal would deliver them, whatever the test
    runner inherited (nohup ignores SIGHUP, a shell's background job SIGINT): for ``preexec_fn``."""
    for number in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)


def camera(captures: list[FakeCapture]) -> CaptureSource:
    queue = iter(captures)
    return CaptureSource(lambda: next(queue), "fake", live=True, retries=2, retry_delay=0.0)


def read_events(path: Path, kind: str | None = "frame") -> list[dict]:
    """The event lines of one kind (None: all of them)."""
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [line for line in lines if kind is None or line["event"] == kind]


def assert_one_error(result: Result, message: str) -> None:
    """Exit code 1 through ``user_errors`` and one red line naming the problem. CliRunner never prints
    a traceback, so "Traceback" not in the output proves nothing: an unexpected exception shows up
    as ``result.exception`` being that exception instead of SystemExit."""
    assert isinstance(result.exception, SystemExit) and result.exception.code == 1, repr(result.exception)
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and message in line


def write_video(path: Path, frames: int, image: np.ndarray) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (image.shape[1], image.shape[0]))
    for index in range(frames):
        writer.write(np.roll(image, 2 * index, axis=1))
    writer.release()
    return path


def one_error(result: Result, pattern: str) -> None:
    """Exit 1 raised by the CLI (not a stray exception), and one error line that matches ``pattern``."""
    assert isinstance(result.exception, SystemExit), (repr(result.exception), result.output)
    assert result.exception.code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    assert re.search(pattern, errors[0]), errors[0]


def synthetic_faces(count_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """48x48 uint8 images whose class shows as a bright bar at a class-specific height, plus noise:
    easy enough for a tiny CNN to learn in a few epochs, so tests can assert it learned."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label in range(len(CLASS_NAMES)):
        for _ in range(count_per_class):
            image = rng.integers(0, 90, size=(48, 48)).astype(np.uint8)
            top = 3 + label * 6
            image[top : top + 5, 4:44] = rng.integers(180, 256)
            images.append(image)
            labels.append(label)
    return np.stack(images), np.array(labels)


def write_fer_csv(path: Path, splits: dict[str, int], seed: int = 0) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for offset, (split, per_class) in enumerate(splits.items()):
            images, labels = synthetic_faces(per_class, seed + offset)
            for image, label in zip(images, labels, strict=True):
                writer.writerow([int(label), " ".join(map(str, image.ravel())), split])
    return path


def register_tiny_arch() -> str:
    """A test-only architecture added through the registry, as a user would add one (a subprocess can too)."""
    from edge_emotion.preprocess import INPUT_SHAPE
    from edge_emotion.training.models import register
    from edge_emotion.training.tf_import import import_keras

    def tiny():
        keras = import_keras()
        layers = keras.layers
        return keras.Sequential(
            [
                keras.Input(INPUT_SHAPE),
                layers.Conv2D(8, 3, padding="same", activation="relu"),
                layers.MaxPooling2D(2),
                layers.MaxPooling2D(2),
                layers.Conv2D(16, 3, padding="same", activation="relu"),
                layers.MaxPooling2D(2),
                layers.Flatten(),  # the synthetic classes differ by where a bar is, so keep position
                layers.Dense(len(CLASS_NAMES), activation="softmax", dtype="float32"),
            ],
            name="tiny",
        )

    register("tiny-test")(tiny)
    return "tiny-test"
