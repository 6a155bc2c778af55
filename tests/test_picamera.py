"""The Pi camera module through picamera2, with picamera2 faked: no board here."""

import json
import sys
import types
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from edge_emotion.cli import app
from edge_emotion.device.io.sources import open_camera

pytestmark = pytest.mark.device  # no TensorFlow: run in the device install too

runner = CliRunner()


class FakePicamera2:
    """picamera2.Picamera2's calls used by the source; frames are RGB with a pure red corner."""

    instances: ClassVar[list["FakePicamera2"]] = []
    camera_controls: ClassVar[dict] = {"FrameDurationLimits": (16_666, 1_000_000, 33_333)}  # 1 to 60 FPS

    def __init__(self) -> None:
        self.config: dict | None = None
        self.started = self.closed = False
        FakePicamera2.instances.append(self)

    def create_video_configuration(self, main: dict, controls: dict) -> dict:
        return {"main": main, "controls": controls}

    def configure(self, config: dict) -> None:
        width, height = config["main"]["size"]
        # as libcamera aligns a size its hardware cannot give: width to 64 px here
        self.config = {**config, "main": {**config["main"], "size": (width // 64 * 64, height)}}

    def camera_configuration(self) -> dict:
        return self.config

    def start(self) -> None:
        self.started = True

    def capture_array(self) -> np.ndarray:
        width, height = self.config["main"]["size"]
        frame = np.zeros((height, width, 3), np.uint8)
        frame[:10, :10] = (255, 0, 0)  # red, in RGB order
        return frame

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_picamera2(monkeypatch: pytest.MonkeyPatch) -> type[FakePicamera2]:
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2
    module.__spec__ = types.SimpleNamespace(name="picamera2")  # found by importlib.util.find_spec
    monkeypatch.setitem(sys.modules, "picamera2", module)
    FakePicamera2.instances.clear()
    return FakePicamera2


def test_picam_frames_arrive_as_bgr(fake_picamera2: type[FakePicamera2]) -> None:
    source = open_camera("picam")
    frame = next(iter(source.frames()))
    assert frame.image.shape == (480, 640, 3)
    assert frame.image[0, 0].tolist() == [0, 0, 255]  # red in OpenCV's BGR
    source.close()
    assert fake_picamera2.instances[0].closed


def test_camera_0_falls_back_to_picamera2(fake_picamera2: type[FakePicamera2], monkeypatch: pytest.MonkeyPatch) -> None:
    class NoDevice:
        def isOpened(self) -> bool:
            return False

    monkeypatch.setattr(cv2, "VideoCapture", lambda index: NoDevice())
    assert open_camera("0").name == "picam"
    with pytest.raises(Exception, match="camera 1 not found"):
        open_camera("1")


def test_run_with_picam(fake_picamera2: type[FakePicamera2], tiny_model: Path) -> None:
    result = runner.invoke(app, ["run", "--camera", "picam", "--model", str(tiny_model), "--max-frames", "3"])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()[1:]]  # after the settings
    assert [e["frame"] for e in events] == [0, 1, 2] and all(e["source"] == "picam" for e in events)
    assert fake_picamera2.instances[0].closed  # released in finally


def test_picam_without_picamera2_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tiny_model: Path) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import fails
    result = runner.invoke(app, ["run", "--camera", "picam", "--model", str(tiny_model)])
    assert result.exit_code == 1 and "edge-emotion[picamera]" in result.output


def test_bad_camera_name(tiny_model: Path) -> None:
    result = runner.invoke(app, ["run", "--camera", "front", "--model", str(tiny_model)])
    assert result.exit_code == 1 and "camera index" in result.output


def test_picam_takes_the_size_and_rate_asked(fake_picamera2: type[FakePicamera2]) -> None:
    source = open_camera("picam", (1280, 720), 50)
    assert next(iter(source.frames())).image.shape == (720, 1280, 3)
    assert fake_picamera2.instances[0].config["controls"] == {"FrameRate": 50}
    source.close()


@pytest.mark.parametrize(
    ("size", "fps", "said"),
    [
        ((1000, 600), None, "camera picam cannot give 1000x600; it chose 960x600: use --camera-size 960x600, or"),
        (
            (640, 480),
            120,
            "camera picam cannot give 120 FPS; it chose 640x480 at 60 FPS: use --camera-size 640x480 --fps 60, or",
        ),
    ],
)
def test_picam_refuses_what_it_cannot_do_saying_what_it_chose(
    fake_picamera2: type[FakePicamera2], tiny_model: Path, size: tuple[int, int], fps: float | None, said: str
) -> None:
    flags = ["--camera-size", f"{size[0]}x{size[1]}", *(["--fps", str(fps)] if fps else [])]
    result = runner.invoke(app, ["run", "--camera", "picam", "--model", str(tiny_model), *flags])
    assert result.exit_code == 1 and result.output.count("\n") == 1 and said in result.output, result.output
    assert fake_picamera2.instances[0].closed and not fake_picamera2.instances[0].started
