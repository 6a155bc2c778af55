"""The device side's faults: every one is one red line and exit 1, or handled and kept.

Each error row asserts exit code 1, exactly one error line naming the problem, and nothing
left at the final path. A full disk is a 200 KB tmpfs, a read-only folder a read-only one;
mounting needs root, and those rows skip with the reason where it is refused.
"""

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from fakes import default_stop_signals
from typer.testing import CliRunner

from edge_emotion.cli import app
from edge_emotion.device.engine.detector import Detection
from edge_emotion.device.engine.recognizer import EmotionRecognizer
from edge_emotion.device.io.image_header import image_size
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.shipped import shipped_model

pytestmark = [pytest.mark.faults, pytest.mark.device]  # no TensorFlow: run in the device install too
runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]


def mounted_tmpfs(folder: Path, options: str) -> Iterator[Path]:
    folder.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command here")
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mount.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def full(tmp_path: Path) -> Iterator[Path]:
    """A disk of 200 KB: it fills up after a few frames of video."""
    yield from mounted_tmpfs(tmp_path / "full", "size=200k")


@pytest.fixture
def readonly(tmp_path: Path) -> Iterator[Path]:
    yield from mounted_tmpfs(tmp_path / "readonly", "ro,size=64k")


def noise_video(path: Path, frames: int, size: tuple[int, int] = (320, 240)) -> Path:
    """A clip of random noise: it compresses badly, so its annotated copy fills a small disk fast."""
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    for _ in range(frames):
        writer.write(rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8))
    writer.release()
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return noise_video(tmp_path_factory.mktemp("clip") / "noise.avi", 40)


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "grey.png"
    cv2.imwrite(str(path), np.full((64, 64, 3), 128, np.uint8))
    return path


@pytest.fixture
def huge_png(tmp_path: Path) -> Path:
    """Only a PNG header saying 20000x20000 (400 megapixels): decoding it would take 1.2 GB."""
    path = tmp_path / "huge.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I4sIIBBBBB", 13, b"IHDR", 20000, 20000, 8, 2, 0, 0, 0))
    return path


@pytest.fixture
def huge_jpg(tmp_path: Path) -> Path:
    """A real small JPEG whose frame header is edited to say 20000x20000."""
    path = tmp_path / "huge.jpg"
    data = bytearray(cv2.imencode(".jpg", np.zeros((16, 16, 3), np.uint8))[1].tobytes())
    frame = data.index(b"\xff\xc0")  # baseline SOF0: marker, length, precision, height, width
    data[frame + 5 : frame + 9] = struct.pack(">HH", 20000, 20000)
    path.write_bytes(bytes(data))
    return path


def model_with_sidecar(folder: Path, sidecar: object) -> Path:
    model = folder / "model.tflite"
    shutil.copy(shipped_model(), model)
    model.with_suffix(".json").write_text(json.dumps(sidecar))
    return model


@pytest.fixture
def list_sidecar(tmp_path: Path) -> Path:
    return model_with_sidecar(tmp_path, ["angry", "happy"])


@pytest.fixture
def string_classes(tmp_path: Path) -> Path:
    return model_with_sidecar(tmp_path, {"class_names": "angry,disgust,fear,happy,sad,surprise,neutral"})


# id, arguments after `run`, words the error line must contain, the final path that must not exist.
# {name} is a fixture above (or tmp_path), requested only by the rows that use it.
ROWS = [
    ("video-on-a-full-disk", "--video {clip} --save {full}/out.mp4", "cannot write video", "{full}/out.mp4"),
    ("image-save-suffix", "--image {image} --save {tmp_path}/out.txt", "an image needs one of", "{tmp_path}/out.txt"),
    ("save-suffix-before-source", "--image {tmp_path}/absent.png --save {tmp_path}/out.txt", "--save", None),
    (
        "image-to-read-only",
        "--image {image} --save {readonly}/out.png",
        "is read-only; choose a folder you can write to",
        "{readonly}/out.png",
    ),
    (
        "video-to-read-only",
        "--video {clip} --save {readonly}/out.mp4",
        "is read-only; choose a folder you can write to",
        "{readonly}/out.mp4",
    ),
    ("events-to-dev-full", "--image {image} --events /dev/full", "No space left on device", None),
    ("camera-index-too-big", "--camera 99999999999999999999", "use a camera index (0 to 99)", None),
    ("camera-index-not-ascii", "--camera ²", "use a camera index (0 to 99)", None),
    ("threads-too-many", "--image {image} --threads 100000", "1 to 64 interpreter threads", None),
    ("threads-zero", "--image {image} --threads 0", "1 to 64 interpreter threads", None),
    ("sidecar-is-a-list", "--image {image} --model {list_sidecar}", "must be a JSON object, not a list", None),
    ("class-names-a-string", "--image {image} --model {string_classes}", "class_names must be a list of str", None),
    ("huge-png", "--image {huge_png}", "20000x20000 pixels is over the 50 megapixel limit", None),
    ("huge-jpeg", "--image {huge_jpg}", "20000x20000 pixels is over the 50 megapixel limit", None),
]


@pytest.mark.parametrize(("arguments", "message", "final"), [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_faults_are_one_error_line(
    request: pytest.FixtureRequest, arguments: str, message: str, final: str | None
) -> None:
    names = {name for name in ("clip", "image", "full", "readonly", "huge_png", "huge_jpg", "list_sidecar",
                               "string_classes", "tmp_path") if f"{{{name}}}" in f"{arguments} {final}"}  # fmt: skip
    values = {name: request.getfixturevalue(name) for name in names}
    result = runner.invoke(app, ["run", *arguments.format(**values).split(), "--max-frames", "30"])
    assert isinstance(result.exception, SystemExit) and result.exception.code == 1, result.output
    (line,) = result.stderr.splitlines()  # one line: no traceback, no second message
    assert line.startswith("error: ") and message in line
    if final is not None:
        target = Path(final.format(**values))
        assert not target.exists() and not list(target.parent.glob(f".{target.stem}.partial*"))


def test_events_that_fill_the_disk_keep_whole_lines(full: Path, clip: Path) -> None:
    room = os.statvfs(full)
    (full / "ballast").write_bytes(bytes(room.f_bavail * room.f_frsize - 4096))  # one page left: ~25 events
    events = full / "events.jsonl"
    result = runner.invoke(app, ["run", "--video", str(clip), "--events", str(events)])
    assert isinstance(result.exception, SystemExit) and result.exception.code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: cannot write events") and "No space left on device" in line
    lines = events.read_text().split("\n")[1:]  # after the settings
    assert lines[-1] == ""  # the file ends with a whole line: the one cut off by the full disk was taken back
    assert [json.loads(line)["frame"] for line in lines[:-1]] == list(range(len(lines) - 1))
    assert len(lines) > 5


def test_an_undecodable_frame_is_skipped_and_counted(tmp_path: Path) -> None:
    clip = noise_video(tmp_path / "clip.avi", 40, (64, 48))
    data = bytearray(clip.read_bytes())
    starts = [i for i in range(len(data) - 2) if data[i : i + 3] == b"\xff\xd8\xff"]  # one JPEG per frame
    data[starts[12] : starts[12] + 300] = bytes(300)  # frame 12 no longer decodes
    clip.write_bytes(bytes(data))
    result = runner.invoke(app, ["run", "--video", str(clip)])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1 + 39  # the settings, then a line per frame
    summary = json.loads(next(line for line in result.stderr.splitlines() if line.startswith("{")))["summary"]
    assert summary["frames"] == 39 and summary["frames_skipped"] == 1
    assert "warning: skipped 1 undecodable frames" in result.stderr


def test_image_header_sizes(tmp_path: Path) -> None:
    """The size read from the header is the decoded size, for every format --image accepts."""
    picture = np.random.default_rng(0).integers(0, 256, size=(23, 37, 3), dtype=np.uint8)
    variants = {
        "a.png": [], "a.jpg": [], "progressive.jpg": [cv2.IMWRITE_JPEG_PROGRESSIVE, 1], "a.bmp": [],
        "lossy.webp": [cv2.IMWRITE_WEBP_QUALITY, 80], "lossless.webp": [cv2.IMWRITE_WEBP_QUALITY, 101],
        "a.tif": [], "a.ppm": [], "a.pgm": [],
    }  # fmt: skip
    for name, params in variants.items():
        path = tmp_path / name
        assert cv2.imwrite(str(path), picture[..., 0] if name.endswith(".pgm") else picture, params)
        assert image_size(path) == (37, 23), name
    extended = tmp_path / "extended.webp"  # VP8X, as written by encoders that add alpha or metadata
    extended.write_bytes(b"RIFF\0\0\0\0WEBPVP8X" + bytes(8) + (36).to_bytes(3, "little") + (22).to_bytes(3, "little"))
    assert image_size(extended) == (37, 23)
    (tmp_path / "notes.png").write_text("not a picture")
    assert image_size(tmp_path / "notes.png") is None


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (None, "got NoneType"),
        ([[0, 1]], "got list"),
        (np.zeros((0, 0, 3), np.uint8), "shape (0, 0, 3)"),
        (np.zeros((8, 8, 2), np.uint8), "shape (8, 8, 2)"),
        (np.zeros((64, 64, 3)), "got float64; convert with"),
        (np.zeros((64, 64, 3), np.uint16), "got uint16"),
    ],
)
def test_predict_refuses_what_is_not_an_image(frame: object, message: str) -> None:
    with pytest.raises(EdgeEmotionError, match=r"expected a uint8 image") as error:
        EmotionRecognizer().predict(frame)
    assert message in str(error.value)


class WholeFrame:
    """A detector that calls the whole frame a face, so every call classifies its own input."""

    def detect(self, frame: np.ndarray) -> list[Detection]:
        return [Detection((0, 0, frame.shape[1], frame.shape[0]), 1.0)]


def test_predict_takes_a_bool_mask_as_black_and_white() -> None:
    mask = np.random.default_rng(1).random((48, 48)) > 0.5
    recognizer = EmotionRecognizer(detector=WholeFrame())
    (face,) = recognizer.predict(mask)
    (same,) = recognizer.predict(mask.astype(np.uint8) * 255)
    assert face.probabilities == same.probabilities


def test_predict_from_several_threads_gives_each_call_its_own_answer() -> None:
    recognizer = EmotionRecognizer(detector=WholeFrame())
    rng = np.random.default_rng(2)
    frames = [rng.integers(0, 256, size=(48 + 8 * k, 48, 3), dtype=np.uint8) for k in range(6)]
    expected = [recognizer.predict(frame)[0].probabilities for frame in frames]
    wrong: list[str] = []

    def work(index: int) -> None:
        for _ in range(60):
            try:
                (face,) = recognizer.predict(frames[index])
            except Exception as error:  # any failure is the finding
                wrong.append(repr(error))
                return
            if face.probabilities != expected[index]:
                wrong.append(f"thread {index} got another call's probabilities")

    threads = [threading.Thread(target=work, args=(index,)) for index in range(len(frames))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert wrong == []


def cli(*arguments: str) -> list[str]:
    code = "import sys; from edge_emotion.cli import app; sys.argv[0] = 'edge-emotion'; app()"
    return [sys.executable, "-c", code, *arguments]


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}


def test_missing_edgetpu_prints_one_line_in_a_real_process(image: Path) -> None:
    """The half-built delegate's ``__del__`` traceback appears only in a real process (pytest hooks it)."""
    done = subprocess.run(cli("run", "--image", str(image), "--edgetpu"), capture_output=True, text=True,
                          env=environment(), timeout=60)  # fmt: skip
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: cannot load the Edge TPU delegate")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_stop_signals_keep_the_video_and_the_events(tmp_path: Path, stop: signal.Signals) -> None:
    """systemd and docker stop with SIGTERM, a closed terminal sends SIGHUP: both end the run like Ctrl-C."""
    clip = tmp_path / "long.avi"  # 600 VGA frames: many seconds of work, so the signal comes mid-run
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    gradient = np.tile(np.linspace(0, 255, 640, dtype=np.uint8), (480, 1))
    for index in range(600):
        writer.write(cv2.cvtColor(np.roll(gradient, 4 * index, axis=1), cv2.COLOR_GRAY2BGR))
    writer.release()
    out, events = tmp_path / "out.mp4", tmp_path / "events.jsonl"
    arguments = cli("run", "--video", str(clip), "--save", str(out), "--events", str(events))
    process = subprocess.Popen(
        arguments, stderr=subprocess.PIPE, text=True, env=environment(), preexec_fn=default_stop_signals
    )
    deadline = time.monotonic() + 60
    while (not events.exists() or len(events.read_text().splitlines()) <= 5) and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.05)
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    lines = events.read_text().splitlines()[1:]  # after the settings
    summary = json.loads(next(line for line in stderr.splitlines() if line.startswith("{")))["summary"]
    assert 5 <= len(lines) == summary["frames"] < 600
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == len(lines)
    assert not list(tmp_path.glob(".*partial*"))
