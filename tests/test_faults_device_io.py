"""The device side's inputs and outputs at their edges: sources that are not files, native libraries'
own console lines, videos a codec refuses, folders that take no file, a closed events pipe, and
API values (timestamps, face ids) of the wrong kind.

Each error asserts the exit code, exactly one ``error:`` line naming the problem (no FFmpeg, libpng
or libtiff line beside it unless -v) and nothing changed at any input or final output path.
"""

import json
import math
import os
import struct
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from edge_emotion.cli import app
from edge_emotion.device.engine.detector import Detection
from edge_emotion.device.engine.recognizer import EmotionRecognizer
from edge_emotion.device.io.events import EventWriter
from edge_emotion.device.io.outputs import AnnotatedOutput
from edge_emotion.device.io.sources import Frame
from edge_emotion.errors import EdgeEmotionError

pytestmark = [pytest.mark.faults, pytest.mark.device]  # no TensorFlow: run in the device install too
runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]


def cli(*arguments: str) -> list[str]:
    code = "import sys; from edge_emotion.cli import app; sys.argv[0] = 'edge-emotion'; app()"
    return [sys.executable, "-c", code, *arguments]


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}


def run(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    """``edge-emotion run ...`` in a real process: native libraries write to its descriptor 2, which
    CliRunner does not see."""
    return subprocess.run(
        cli("run", *arguments), capture_output=True, text=True, env=environment(), cwd=cwd, timeout=120
    )


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry of ``folder``: a file's bytes, else what it is."""
    return {
        path.name: path.read_bytes() if path.is_file() and not path.is_symlink() else str(os.lstat(path).st_mode)
        for path in sorted(folder.iterdir())
    }


def assert_one_error(code: int | None, stderr: str, *words: str) -> None:
    assert code == 1, stderr
    (line,) = stderr.splitlines()  # no native line, no traceback, no second message
    assert line.startswith("error: "), line
    for word in words:
        assert word in line, line


def write_video(path: Path, frames: int, size: tuple[int, int], codec: str = "MJPG") -> Path:
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), 10, size)
    for _ in range(frames):
        writer.write(rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8))
    writer.release()
    assert path.stat().st_size > 0
    return path


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "grey.png"
    cv2.imwrite(str(path), np.full((64, 64, 3), 128, np.uint8))
    return path


# --- a video the codec refuses says why --------------------------------------------------------


def test_a_video_of_frames_the_codec_refuses_says_which_size_and_what_to_do(tmp_path: Path) -> None:
    target = tmp_path / "out.mp4"
    frame = np.zeros((1, 1, 3), np.uint8)
    with pytest.raises(EdgeEmotionError) as error, AnnotatedOutput(target, "video", 10.0) as output:
        output.write(Frame(0, 0.0, "clip", frame), frame)
    message = str(error.value)
    assert "1x1" in message and "2 to 8191 px" in message and ".avi" in message, message
    assert list(tmp_path.iterdir()) == []  # neither the video nor its temporary


def test_a_too_wide_video_is_one_line_that_says_why(tmp_path: Path) -> None:
    write_video(tmp_path / "wide.avi", 3, (8192, 40))
    before = snapshot(tmp_path)
    done = run("--video", "wide.avi", "--save", "out.mp4", cwd=tmp_path)
    assert_one_error(done.returncode, done.stderr, "cannot write video out.mp4", "not 8192x40", "save as .avi")
    assert snapshot(tmp_path) == before


# --- native libraries' lines stay off the terminal unless -v ------------------------------------


def bad_tiff(path: Path) -> Path:
    """A grey TIFF with an unknown tag (libtiff warns) whose strip is cut short (libtiff errors)."""
    width = height = 64
    entries = [(256, 3, width), (257, 3, height), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 0),
               (277, 3, 1), (278, 3, height), (279, 4, width * height), (65000, 3, 7)]  # fmt: skip
    start = 8 + 2 + 12 * len(entries) + 4
    directory = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        value = start if tag == 273 else value
        directory += struct.pack("<HHIHH" if kind == 3 else "<HHII", tag, kind, 1, value, *([0] if kind == 3 else []))
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8) + directory + bytes(4) + bytes(100))
    return path


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    """A truncated MP4 (FFmpeg: moov atom not found), a truncated PNG (libpng: Read Error) and a bad TIFF."""
    clip = write_video(tmp_path / "whole.mp4", 10, (64, 48), "mp4v")
    (tmp_path / "cut.mp4").write_bytes(clip.read_bytes()[:2000])
    clip.unlink()
    noise = np.random.default_rng(0).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    data = cv2.imencode(".png", noise)[1].tobytes()
    (tmp_path / "cut.png").write_bytes(data[: int(len(data) * 0.9)])
    bad_tiff(tmp_path / "bad.tif")
    return tmp_path


@pytest.mark.parametrize(
    ("arguments", "words", "native"),
    [
        (["--video", "cut.mp4"], "cannot open video cut.mp4", "moov atom not found"),
        (["--image", "cut.png"], "cut.png: not an image OpenCV can read", "libpng"),
        (["--image", "bad.tif"], "bad.tif: not an image OpenCV can read", "TIFF"),
    ],
    ids=["truncated-mp4", "truncated-png", "bad-tiff"],
)
def test_a_damaged_source_is_one_line_without_the_native_librarys_own(
    damaged: Path, arguments: list[str], words: str, native: str
) -> None:
    before = snapshot(damaged)
    done = run(*arguments, cwd=damaged)
    assert_one_error(done.returncode, done.stderr, words)
    verbose = run(*arguments, "-v", cwd=damaged)  # the library's own lines are still there to see with -v
    assert verbose.returncode == 1 and native in verbose.stderr, verbose.stderr
    assert snapshot(damaged) == before


# --- a source that is not a file says what it is -------------------------------------------------


@pytest.fixture
def odd(tmp_path: Path) -> Path:
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "photos").mkdir()
    (tmp_path / "loop.png").symlink_to("loop.png")
    return tmp_path


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ("--image pipe.png", "--image pipe.png is not a regular file (a FIFO)"),
        ("--video pipe.png", "--video pipe.png is not a regular file (a FIFO)"),
        ("--image photos", "--image photos is a folder; use --dir photos"),
        ("--video photos", "--video photos is a folder; use --dir photos"),
        ("--image loop.png", "--image loop.png is a symlink loop"),
        ("--video loop.png", "--video loop.png is a symlink loop"),
        ("--dir loop.png", "--dir loop.png is a symlink loop"),
        ("--image absent.png", "image not found: absent.png"),
        ("--image grey.png --save loop.png --max-frames 1", None),  # an output that is a loop: no traceback
    ],
)
def test_a_source_that_is_not_a_regular_file_says_what_it_is(
    odd: Path, image: Path, monkeypatch: pytest.MonkeyPatch, arguments: str, words: str | None
) -> None:
    monkeypatch.chdir(odd)
    before = snapshot(odd)
    result = runner.invoke(app, ["run", *arguments.split()])
    if words is None:
        assert result.exit_code == 0 and (odd / "loop.png").is_file(), result.output
        return
    assert isinstance(result.exception, SystemExit), result.exception
    assert_one_error(result.exit_code, result.stderr, words)
    assert snapshot(odd) == before


# --- a folder that takes no file says why -------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, which takes no new file")
@pytest.mark.parametrize("source", ["image", "video"])
def test_a_folder_that_takes_no_file_gives_the_systems_reason(tmp_path: Path, image: Path, source: str) -> None:
    given = image if source == "image" else write_video(tmp_path / "clip.avi", 3, (64, 48))
    target = "/proc/edge-emotion-out.png" if source == "image" else "/proc/edge-emotion-out.avi"
    before = snapshot(tmp_path)
    result = runner.invoke(app, ["run", f"--{source}", str(given), "--save", target])
    assert_one_error(result.exit_code, result.stderr, f"cannot write {target}: No such file or directory")
    assert "disk full" not in result.stderr
    assert snapshot(tmp_path) == before and not Path(target).exists()


# --- a closed events pipe is a stop, not a failure ----------------------------------------------


def test_a_closed_events_pipe_stops_the_run_and_keeps_the_video(tmp_path: Path) -> None:
    """``edge-emotion run --video v.avi --save out.avi | head -2``: the reader goes after the settings and a frame."""
    clip = write_video(tmp_path / "clip.avi", 200, (96, 72))
    out = tmp_path / "out.avi"
    process = subprocess.Popen(
        cli("run", "--video", str(clip), "--save", str(out)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment(),
    )  # fmt: skip
    header, first = json.loads(process.stdout.readline()), json.loads(process.stdout.readline())
    process.stdout.close()  # as head -2 does
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 0, stderr
    assert header["event"] == "settings" and first["event"] == "frame" and first["frame"] == 0
    assert "error" not in stderr.lower() and "Exception ignored" not in stderr, stderr
    assert "warning: the events' reader went away (a closed pipe); stopped as after Ctrl-C, the video kept" in stderr
    summary = json.loads(next(line for line in stderr.splitlines() if line.startswith("{")))["summary"]
    assert summary["events_reader_gone"] is True and 1 <= summary["frames"] < 200
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == summary["frames"]
    assert not list(tmp_path.glob(".*partial*"))


def test_events_are_strict_json(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    writer = EventWriter(events)
    with pytest.raises(EdgeEmotionError, match="cannot write a change event: it holds NaN or infinity"):
        writer.write({"event": "change", "confidence": math.nan})
    writer.close()
    assert events.read_bytes() == b""


# --- API values of the wrong kind ---------------------------------------------------------------


class WholeFrame:
    """A detector that calls the whole frame a face."""

    def detect(self, frame: np.ndarray) -> list[Detection]:
        return [Detection((0, 0, frame.shape[1], frame.shape[0]), 1.0)]


FACE = np.random.default_rng(3).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)


@pytest.mark.parametrize("timestamp", [math.inf, -math.inf, math.nan, "1.5", True])
def test_predict_refuses_a_timestamp_that_is_not_finite_seconds(timestamp: object) -> None:
    recognizer = EmotionRecognizer(detector=WholeFrame(), track=True)
    for now in (0.0, 0.1, 0.2):
        recognizer.predict(FACE, timestamp=now)
    with pytest.raises(EdgeEmotionError, match="timestamp must be a finite number of seconds"):
        recognizer.predict(FACE, timestamp=timestamp)
    for now in (0.3, 0.0, 0.4):  # on, back a long way, on: the probabilities stay numbers
        (face,) = recognizer.predict(FACE, timestamp=now)
        assert all(math.isfinite(p) for p in face.probabilities.values()), face.probabilities
        json.dumps(face.as_dict(), allow_nan=False)


@pytest.mark.parametrize("face_id", [True, "1", 1.0, None])
def test_calibrate_takes_an_int_face_id_only(face_id: object) -> None:
    recognizer = EmotionRecognizer(detector=WholeFrame(), track=True)
    (face,) = [recognizer.predict(FACE, timestamp=now) for now in (0.0, 0.1, 0.2)][-1]  # counted from frame 3
    assert face.id == 1
    with pytest.raises(EdgeEmotionError, match="face ids are integers"):
        recognizer.calibrate(face_id)
    assert recognizer.calibrations == {}
    assert recognizer.calibrate(np.int64(1)) is True  # a numpy integer is an int


# --- a folder's skipped photos are called images ------------------------------------------------


def test_a_folders_skipped_photos_are_counted_as_images(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((64, 64, 3), 128, np.uint8))
    data = cv2.imencode(".png", FACE)[1].tobytes()
    (folder / "b.png").write_bytes(data[: int(len(data) * 0.9)])
    before = snapshot(folder)
    result = runner.invoke(app, ["run", "--dir", str(folder), "--events", str(tmp_path / "events.jsonl")])
    assert result.exit_code == 0, result.output
    assert "warning: skipped 1 image that could not be read" in result.stderr
    assert "frames" not in result.stderr.splitlines()[-1]
    assert snapshot(folder) == before
