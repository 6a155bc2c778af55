"""Stand-ins for a camera and a face detector, so device tests need no hardware."""

import signal
import time

import cv2
import numpy as np

from edge_emotion.device.detector import Detection


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
