"""--camera-size and --fps on an OpenCV camera, faked: what it can do is taken, what it cannot is one error line
that says what it chose, and bad values fail before a camera opens."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from fakes import FakeCapture, assert_one_error
from typer.testing import CliRunner

from edge_emotion.cli import app
from edge_emotion.device.io.sources import open_camera

pytestmark = pytest.mark.device  # no TensorFlow: run in the device install too

runner = CliRunner()


class FakeCamera(FakeCapture):
    """A webcam that gives 640x480 or 320x240 at 30 or 15 FPS, 640x480 at 30 unless asked otherwise."""

    SIZES, RATES = ((640, 480), (320, 240)), (30.0, 15.0)

    def __init__(self) -> None:
        super().__init__(frames=100)
        self.size, self.rate = (640, 480), 30.0
        self.asked: dict[int, float] = {}

    def set(self, prop: int, value: float) -> bool:
        self.asked[prop] = value
        width = self.asked.get(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
        height = self.asked.get(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
        if (width, height) in self.SIZES:
            self.size = (int(width), int(height))
        if prop == cv2.CAP_PROP_FPS and value in self.RATES:
            self.rate = value
        return True

    def get(self, prop: int) -> float:
        return {cv2.CAP_PROP_FRAME_WIDTH: self.size[0], cv2.CAP_PROP_FRAME_HEIGHT: self.size[1]}.get(prop, self.rate)

    def read(self) -> tuple[bool, np.ndarray | None]:
        ok, _ = super().read()
        return ok, np.full((self.size[1], self.size[0], 3), 90, np.uint8) if ok else None


@pytest.fixture
def cameras(monkeypatch: pytest.MonkeyPatch) -> list[FakeCamera]:
    """Every camera opened, newest last."""
    opened: list[FakeCamera] = []

    def open_fake(index: int) -> FakeCamera:
        opened.append(FakeCamera())
        return opened[-1]

    monkeypatch.setattr(cv2, "VideoCapture", open_fake)
    return opened


def test_the_size_and_rate_asked_are_what_the_camera_gives(cameras: list[FakeCamera]) -> None:
    source = open_camera("0", (320, 240), 15)
    assert next(iter(source.frames())).image.shape == (240, 320, 3) and source.fps == 15
    source.close()
    assert not cameras[0].opened


def test_no_size_or_rate_asked_leaves_the_camera_alone(cameras: list[FakeCamera]) -> None:
    open_camera("0").close()
    assert cameras[0].asked == {}


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--camera-size", "1000x1000"], "camera 0 cannot give 1000x1000; it chose 640x480 at 30 FPS: "
         "use --camera-size 640x480 --fps 30, or leave them out"),
        (["--fps", "25"], "camera 0 cannot give 25 FPS; it chose 640x480 at 30 FPS"),
        (["--camera-size", "320x240", "--fps", "60"], "camera 0 cannot give 60 FPS; it chose 320x240 at 30 FPS"),
    ],
)  # fmt: skip
def test_what_the_camera_cannot_do_is_one_line_saying_what_it_chose(
    cameras: list[FakeCamera], tiny_model: Path, flags: list[str], said: str
) -> None:
    result = runner.invoke(app, ["run", "--camera", "0", "--model", str(tiny_model), *flags])
    assert_one_error(result, said)
    assert not result.stdout.strip(), result.stdout
    assert not cameras[0].opened  # released


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--camera-size", "0x0"], "--camera-size 0x0 is out of range"),
        (["--camera-size", "abc"], "--camera-size 'abc': give WIDTHxHEIGHT in pixels, e.g. 640x480"),
        (["--camera-size", "640x-480"], "give WIDTHxHEIGHT"),
        (["--fps", "-1"], "--fps -1 is out of range"),
        (["--fps", "0"], "--fps 0 is out of range"),
        (["--full-search-every", "0", "--track-regions"], "--full-search-every 0 is out of range"),
    ],
)
def test_bad_camera_settings_are_one_line_before_the_camera_opens(
    cameras: list[FakeCamera], tiny_model: Path, flags: list[str], said: str
) -> None:
    result = runner.invoke(app, ["run", "--camera", "0", "--model", str(tiny_model), *flags])
    assert_one_error(result, said)
    assert not result.stdout.strip(), result.stdout
    assert cameras == []  # never opened


def test_camera_settings_without_a_camera_are_refused(tmp_path: Path, tiny_model: Path) -> None:
    result = runner.invoke(app, ["run", "--video", str(tmp_path / "a.mp4"), "--fps", "10"])
    assert result.exit_code == 1 and "use them with --camera" in result.output
