"""What a run shows and leaves: the frame rate only where it is live, --loop, the summary, --quiet.

These use the shipped model (no training): what matters here is the loop's plumbing."""

import itertools
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from fakes import FakeCapture, assert_one_error, camera, read_events, write_video
from typer.testing import CliRunner

import edge_emotion.device.io.live as live_module
import edge_emotion.device.io.loop as loop_module
import edge_emotion.device.io.outputs as outputs
from edge_emotion.cli import app
from edge_emotion.device.engine.recognizer import EmotionRecognizer, Face
from edge_emotion.device.engine.settings import Outputs
from edge_emotion.device.io.loop import run_loop
from edge_emotion.device.io.sources import open_video
from edge_emotion.device.io.stats import LabelTimes, describe

pytestmark = pytest.mark.device  # no TensorFlow: run in the device install too

runner = CliRunner()


class FakeServer:
    """The part of LiveServer the loop uses, keeping the streamed frames."""

    wants_frames = True

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def publish(self, event: dict, image: np.ndarray | None, *rest: object) -> None:
        self.frames.append(image)


@pytest.mark.parametrize("show_fps", [True, False])
def test_the_frame_rate_is_drawn_live_only_and_never_saved(
    show_fps: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def annotate(image: np.ndarray, faces: list, fps: float | None = None, landmarks: bool = False) -> np.ndarray:
        return np.full_like(image, 0 if fps is None else 255)  # white: drawn with the frame rate

    shown: list[np.ndarray] = []
    monkeypatch.setattr(loop_module, "annotate", annotate)
    monkeypatch.setattr(cv2, "imshow", lambda window, image: shown.append(image))
    monkeypatch.setattr(cv2, "waitKey", lambda delay: -1)
    monkeypatch.setattr(cv2, "destroyAllWindows", lambda: None)
    monkeypatch.setenv("DISPLAY", ":0")
    server, out = FakeServer(), tmp_path / "out.avi"
    recognizer = EmotionRecognizer(detector="haar")
    outputs = Outputs(events=tmp_path / "e.jsonl", save=out, show=True, show_fps=show_fps, max_frames=5)
    run_loop(camera([FakeCapture(5)]), recognizer, outputs, server=server)
    assert len(shown) == len(server.frames) == 5
    live = np.array([image.mean() for image in shown + server.frames])
    assert (live == 255).all() if show_fps else (live == 0).all()
    saved = cv2.VideoCapture(str(out))
    means = [image.mean() for ok, image in iter(saved.read, (False, None))]
    assert len(means) == 5 and max(means) < 20


def test_no_fps_reaches_the_loop(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[bool] = []
    summary = {"frames": 0, "seconds": 0.0, "fps": 0.0, "faces_detected": 0, "seconds_per_label": {},
               "frames_skipped": 0, "source_lost": False}  # fmt: skip
    monkeypatch.setattr(live_module, "run_loop", lambda *a, **k: seen.append(a[2].show_fps) or summary)
    clip = write_video(tmp_path / "clip.avi", 3, np.zeros((48, 64, 3), np.uint8))
    for flags in ([], ["--no-fps"]):
        assert runner.invoke(app, ["run", "--video", str(clip), *flags]).exit_code == 0
    assert seen == [True, False]


def test_loop_replays_a_video_past_its_end_with_growing_timestamps(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "clip.avi", 5, np.random.default_rng(0).integers(0, 255, (96, 128, 3), np.uint8))
    events = tmp_path / "events.jsonl"
    base = ["run", "--video", str(clip), "--detector", "haar", "--events", str(events), "--max-frames", "12"]
    assert runner.invoke(app, base).exit_code == 0
    assert len(read_events(events)) == 5  # without --loop the video ends
    result = runner.invoke(app, [*base, "--loop"])
    assert result.exit_code == 0, result.output
    lines = read_events(events)
    assert [e["frame"] for e in lines] == list(range(12))
    times = [e["time"] for e in lines]
    assert all(later > earlier for earlier, later in itertools.pairwise(times))
    assert times[5] == pytest.approx(0.5) and times[11] == pytest.approx(1.1)  # 10 FPS, lap after lap


@pytest.mark.parametrize("source", [["--image", "{image}"], ["--camera", "0"], ["--dir", "{folder}"]])
def test_loop_without_a_video_is_refused(source: list[str], tmp_path: Path) -> None:
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), np.zeros((48, 64, 3), np.uint8))
    args = [a.format(image=image, folder=tmp_path) for a in source]
    result = runner.invoke(app, ["run", *args, "--loop"])
    assert_one_error(result, "--loop replays a video file")


def face(id: int | None, label: str) -> Face:
    return Face((0, 0, 10, 10), 0.9, {label: 1.0}, label, id)


def test_time_per_label_per_face() -> None:
    times = LabelTimes()
    frames = [
        (0.0, [face(1, "sad")]),
        (0.5, [face(1, "sad"), face(2, "neutral")]),
        (1.0, [face(1, "happy")]),
        (1.5, [face(1, "happy")]),
    ]
    for timestamp, faces in frames:
        times.add(timestamp, faces)
    summary = times.summary()
    assert summary == {
        "faces_detected": 5,
        "seconds_per_label": {"1": {"sad": 1.0, "happy": 1.0}, "2": {"neutral": 0.5}},
    }
    text = describe({"frames": 4, "seconds": 2.0, "fps": 2.0, **summary})
    assert text.splitlines() == [
        "4 frames in 2.0 s (2.0 FPS); 2 faces seen",
        "face #1: sad 1.0 s, happy 1.0 s",
        "face #2: neutral 0.5 s",
    ]
    untracked = LabelTimes()
    untracked.add(0.0, [face(None, "sad"), face(None, "happy")])
    assert describe({"frames": 1, "seconds": 0.1, "fps": 10.0, **untracked.summary()}).endswith("2 faces detected")


def test_human_summary_after_a_video(astronaut: Path, tmp_path: Path) -> None:
    clip = write_video(tmp_path / "clip.avi", 8, cv2.resize(cv2.imread(str(astronaut)), (320, 320)))
    result = runner.invoke(app, ["run", "--video", str(clip), "--events", str(tmp_path / "e.jsonl")])
    assert result.exit_code == 0, result.output
    summary_line, *human = result.stderr.splitlines()
    assert json.loads(summary_line)["summary"]["seconds_per_label"].keys() == {"1"}
    assert human[0].startswith("8 frames in ") and human[0].endswith("; 1 face seen")
    (line,) = (line for line in human if line.startswith("face #1: "))
    seconds = [float(s) for s in re.findall(r"(\d+\.\d) s", line)]
    assert sum(seconds) == pytest.approx(0.6, abs=0.05)  # 8 frames at 10 FPS, the face counted from its third


def test_quiet_prints_no_events_and_no_human_summary(astronaut: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--image", str(astronaut), "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()  # the JSON summary only
    assert json.loads(line)["summary"]["faces_detected"] == 1
    events = tmp_path / "events.jsonl"
    result = runner.invoke(app, ["run", "--image", str(astronaut), "--quiet", "--events", str(events)])
    assert result.stdout == "" and len(read_events(events)) == 1
    result = runner.invoke(app, ["run", "--image", str(tmp_path / "absent.png"), "--quiet"])
    assert_one_error(result, "image not found")  # errors still print


@pytest.fixture
def probe_again() -> Iterator[None]:
    """The H.264 probe runs afresh in the test, and afterwards for the next."""
    outputs.encodes_h264.cache_clear()
    yield
    outputs.encodes_h264.cache_clear()


@pytest.mark.usefixtures("probe_again")
@pytest.mark.parametrize("h264", [True, False])
def test_an_mp4_is_h264_where_opencv_encodes_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, h264: bool) -> None:
    class Writer:
        """cv2.VideoWriter with an H.264 encoder or without."""

        fourcc = staticmethod(cv2.VideoWriter.fourcc)

        def __init__(self, path: str, code: int, fps: float, size: tuple[int, int]) -> None:
            self.path, self.code = path, code
            made.append(self)

        def isOpened(self) -> bool:
            return h264 or self.code != cv2.VideoWriter.fourcc(*"avc1")

        def write(self, image: np.ndarray) -> None:
            Path(self.path).write_bytes(b"frame")

        def release(self) -> None:
            pass

    made: list[Writer] = []
    monkeypatch.setattr(cv2, "VideoWriter", Writer)
    assert outputs.encodes_h264() is h264
    output = outputs.AnnotatedOutput(tmp_path / "out.mp4", "video", 10)
    output._open_video(64, 48)
    output.stack.pop_all()  # nothing was written to check
    assert made[-1].code == cv2.VideoWriter.fourcc(*("avc1" if h264 else "mp4v"))


def test_an_mp4_without_h264_says_once_how_to_convert(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setattr(outputs, "encodes_h264", lambda: False)
    video = write_video(tmp_path / "in.avi", 3, np.full((120, 160, 3), 90, np.uint8))
    out = tmp_path / "out.mp4"
    with caplog.at_level(logging.WARNING, logger=outputs.__name__):
        run_loop(open_video(video), EmotionRecognizer(track=True), Outputs(save=out, events=Path(os.devnull)))
    said = [r.getMessage() for r in caplog.records if r.name == outputs.__name__]
    assert len(said) == 1 and "has the mp4v encoder but no H.264 (avc1) one" in said[0]
    assert f"ffmpeg -i {out} -c:v libx264 {tmp_path / 'out-h264.mp4'}" in said[0]
    capture = cv2.VideoCapture(str(out))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    assert int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little") == b"FMP4"  # as FFmpeg names mp4v
    capture.release()
