"""Outputs that must not cost data: an output onto an input or onto another output.

Each refusal asserts exit 1, exactly one error line naming both paths, and every file it would
have replaced with its bytes and modification time unchanged. These use the shipped model: nothing
is trained.
"""

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_device_loop import write_video
from typer.testing import CliRunner, Result

from edge_emotion.cli import app
from edge_emotion.device.live import run_live
from edge_emotion.device.recognizer import EmotionRecognizer
from edge_emotion.errors import EdgeEmotionError

pytestmark = pytest.mark.faults
runner = CliRunner()


def snapshot(*paths: Path) -> dict[Path, tuple[bytes, int]]:
    """Each file's bytes and modification time, to show that a refused command touched nothing."""
    return {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in paths}


def assert_refused(result: Result, *words: str) -> None:
    assert isinstance(result.exception, SystemExit) and result.exception.code == 1, result.output
    (line,) = result.stderr.splitlines()  # one line: no traceback, no second message
    assert line.startswith("error: ") and all(word in line for word in words), line


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_video(tmp_path / "in.avi", 6, np.full((96, 128, 3), 90, np.uint8))


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "in.png"
    cv2.imwrite(str(path), np.full((64, 64, 3), 128, np.uint8))
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "photos"
    path.mkdir()
    for name in ("a.png", "b.jpg"):
        cv2.imwrite(str(path / name), np.full((64, 64, 3), 100, np.uint8))
    return path


# id, arguments after `run` ({clip}, {image}, {folder}, {tmp_path}), words the error line must hold.
CLASHES = [
    ("events-onto-the-video", "--video {clip} --events {clip}", ["--events {clip}", "--video {clip}"]),
    ("events-onto-the-image", "--image {image} --events {image}", ["--events {image}", "--image {image}"]),
    ("save-onto-the-image", "--image {image} --save {image}", ["--save {image}", "--image {image}"]),
    (
        "events-onto-the-video-spelt-otherwise",
        "--video {clip} --events {tmp_path}/../{tmp_path.name}/in.avi",
        ["--video {clip}"],
    ),
    ("save-into-the-input-folder", "--dir {folder} --save {folder}", ["--save {folder}", "--dir image {folder}/a.png"]),
    ("events-onto-an-input-image", "--dir {folder} --events {folder}/b.jpg", ["--events {folder}/b.jpg"]),
    (
        "events-and-video-one-new-file",
        "--video {clip} --events {tmp_path}/o.avi --save {tmp_path}/o.avi",
        ["--events {tmp_path}/o.avi and --save {tmp_path}/o.avi are the same file"],
    ),
    (
        "events-and-video-one-old-file",
        "--video {clip} --events {tmp_path}/old.avi --save {tmp_path}/old.avi",
        ["--events {tmp_path}/old.avi and --save {tmp_path}/old.avi are the same file"],
    ),
    (
        "events-onto-the-videos-temporary",
        "--video {clip} --events {tmp_path}/.o.partial.avi --save {tmp_path}/o.avi",
        ["same file"],
    ),
]


@pytest.mark.parametrize(("arguments", "words"), [row[1:] for row in CLASHES], ids=[row[0] for row in CLASHES])
def test_an_output_onto_an_input_or_another_output_is_refused_and_touches_nothing(
    arguments: str, words: list[str], clip: Path, image: Path, folder: Path, tmp_path: Path
) -> None:
    (tmp_path / "old.avi").write_text('{"event": "frame"}\n')  # an earlier run's events
    values = {"clip": clip, "image": image, "folder": folder, "tmp_path": tmp_path}
    before = snapshot(clip, image, *folder.iterdir(), tmp_path / "old.avi")
    result = runner.invoke(app, ["run", *arguments.format(**values).split(), "--detector", "haar"])
    assert_refused(result, *(word.format(**values) for word in words))
    assert snapshot(*before) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.avi", "in.png", "old.avi", "photos"]


def test_the_python_api_refuses_an_output_onto_its_input(clip: Path) -> None:
    before = snapshot(clip)
    with pytest.raises(EdgeEmotionError, match="would overwrite the --video"):
        run_live(video=clip, events=clip, detector="haar")
    assert snapshot(clip) == before


def test_stdout_and_dev_null_are_never_a_clash(image: Path, tmp_path: Path) -> None:
    for events in ("-", os.devnull):
        result = runner.invoke(app, ["run", "--image", str(image), "--detector", "haar", "--events", events])
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["run", "--image", str(image), "--detector", "haar", "--quiet"])  # events: /dev/null
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("source", ["video", "image"])
def test_save_onto_a_folder_fails_before_the_first_frame(
    source: str, clip: Path, image: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames: list[int] = []
    predict = EmotionRecognizer.predict
    monkeypatch.setattr(EmotionRecognizer, "predict", lambda self, *a, **k: frames.append(1) or predict(self, *a, **k))
    target = tmp_path / ("out.avi" if source == "video" else "out.png")
    target.mkdir()
    (target / "kept.txt").write_text("mine")
    events = tmp_path / "events.jsonl"
    path = clip if source == "video" else image
    result = runner.invoke(app, ["run", f"--{source}", str(path), "--save", str(target), "--events", str(events)])
    assert_refused(result, f"--save {target} is a folder")
    assert frames == [] and not events.exists()
    assert [p.name for p in target.iterdir()] == ["kept.txt"]
