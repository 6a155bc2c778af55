"""Outputs that must not cost data: an output onto an input or onto another output, a stop while the
video is finished, a signal the parent ignores, and convert's sidecar over a run's own files.

Each refusal asserts exit 1, exactly one error line naming both paths, and every file it would
have replaced with its bytes and modification time unchanged. These use the shipped model and
fake runs: nothing is trained.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest
from fakes import FakeCapture, camera, default_stop_signals, read_events, write_video
from typer.testing import CliRunner, Result

import edge_emotion.device.io.loop as loop_module
import edge_emotion.device.io.outputs as outputs_module
from edge_emotion.cli import app
from edge_emotion.device.engine.recognizer import EmotionRecognizer
from edge_emotion.device.engine.settings import DetectorSettings, Outputs, RunSettings
from edge_emotion.device.io.events import EventWriter
from edge_emotion.device.io.live import run_live
from edge_emotion.device.io.loop import run_loop, stop_signals_as_ctrl_c
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.metadata import ModelMetadata

pytestmark = pytest.mark.faults
runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]
FINISHING = "finishing the video…"


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


@pytest.mark.device
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


@pytest.mark.device
def test_the_python_api_refuses_an_output_onto_its_input(clip: Path) -> None:
    before = snapshot(clip)
    with pytest.raises(EdgeEmotionError, match="would overwrite the --video"):
        run_live(RunSettings(video=clip, detector=DetectorSettings("haar"), outputs=Outputs(events=clip)))
    assert snapshot(clip) == before


@pytest.mark.device
def test_stdout_and_dev_null_are_never_a_clash(image: Path, tmp_path: Path) -> None:
    for events in ("-", os.devnull):
        result = runner.invoke(app, ["run", "--image", str(image), "--detector", "haar", "--events", events])
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["run", "--image", str(image), "--detector", "haar", "--quiet"])  # events: /dev/null
    assert result.exit_code == 0, result.output


@pytest.mark.device
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


class StoppedAtThirdFrame(EventWriter):
    """Events whose third frame line comes with a Ctrl-C: the run stops after it."""

    def write(self, event: dict) -> None:
        super().write(event)
        if event["event"] == "frame" and event["frame"] == 2:
            os.kill(os.getpid(), signal.SIGINT)


def stopped_again_while_finishing(monkeypatch: pytest.MonkeyPatch, *signals: signal.Signals) -> None:
    """The run is stopped at its third frame, and ``signals`` arrive while its video is checked before
    the rename into place: the moment a quick second Ctrl-C lands in."""
    check = outputs_module.AnnotatedOutput._check_video

    def check_video(self: object, temporary: Path) -> None:
        for number in signals:
            os.kill(os.getpid(), number)
        check(self, temporary)

    monkeypatch.setattr(loop_module, "EventWriter", StoppedAtThirdFrame)
    monkeypatch.setattr(outputs_module.AnnotatedOutput, "_check_video", check_video)


def frame_count(video: Path) -> int:
    return int(cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FRAME_COUNT))


@pytest.mark.device
def test_stops_while_the_video_is_finished_are_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stopped_again_while_finishing(monkeypatch, signal.SIGINT, signal.SIGTERM, signal.SIGINT)
    out, events = tmp_path / "out.avi", tmp_path / "events.jsonl"
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        summary = run_loop(camera([FakeCapture(10)]), EmotionRecognizer(detector="haar"), Outputs(events, save=out))
    except KeyboardInterrupt:
        pytest.fail("a stop signal while the video was finished cut it short")
    assert summary["frames"] == len(read_events(events)) == frame_count(out) == 3
    assert capsys.readouterr().err.count(FINISHING) == 1  # said once, however many arrive
    assert not list(tmp_path.glob(".*partial*"))
    assert {number: signal.getsignal(number) for number in before} == before


@pytest.mark.device
def test_a_second_ctrl_c_keeps_the_video_and_the_exit_status(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, events = tmp_path / "out.avi", tmp_path / "events.jsonl"
    arguments = ["run", "--video", str(clip), "--detector", "haar", "--save", str(out), "--events", str(events)]
    monkeypatch.setattr(loop_module, "EventWriter", StoppedAtThirdFrame)
    once = runner.invoke(app, arguments)
    stopped_again_while_finishing(monkeypatch, signal.SIGINT)
    twice = runner.invoke(app, arguments)
    assert once.exit_code == twice.exit_code == 0, twice.output
    assert FINISHING not in once.stderr and twice.stderr.count(FINISHING) == 1
    assert len(read_events(events)) == frame_count(out) == 3


def cli(*arguments: str) -> list[str]:
    code = "import sys; from edge_emotion.cli import app; sys.argv[0] = 'edge-emotion'; app()"
    return [sys.executable, "-c", code, *arguments]


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 VGA frames: many seconds of work, so a signal comes mid-run."""
    clip = tmp_path_factory.mktemp("long") / "long.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    gradient = np.tile(np.linspace(0, 255, 640, dtype=np.uint8), (480, 1))
    for index in range(600):
        writer.write(cv2.cvtColor(np.roll(gradient, 4 * index, axis=1), cv2.COLOR_GRAY2BGR))
    writer.release()
    return clip


def started(arguments: list[str], events: Path, lines: int = 5, **options: object) -> subprocess.Popen:
    """The command, once it has written ``lines`` event lines after its settings line (stop signals as a
    terminal sends them, unless ``options`` say otherwise)."""
    options.setdefault("preexec_fn", default_stop_signals)
    process = subprocess.Popen(arguments, stderr=subprocess.PIPE, text=True, env=environment(), **options)
    deadline = time.monotonic() + 60
    while (not events.exists() or len(events.read_text().splitlines()) <= lines) and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.02)
    return process


def summary_of(stderr: str) -> dict:
    return json.loads(next(line for line in stderr.splitlines() if line.startswith("{")))["summary"]


@pytest.mark.device
@pytest.mark.parametrize("gap", [0.001, 0.003, 0.006])
def test_two_quick_ctrl_c_keep_the_whole_video(long_clip: Path, tmp_path: Path, gap: float) -> None:
    """A second Ctrl-C a few milliseconds after the first lands while the video is finished."""
    for attempt in range(2):
        out, events = tmp_path / f"out{attempt}.mp4", tmp_path / f"events{attempt}.jsonl"
        arguments = cli("run", "--video", str(long_clip), "--save", str(out), "--events", str(events))
        process = started(arguments, events)
        process.send_signal(signal.SIGINT)
        time.sleep(gap)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
        assert 5 <= summary_of(stderr)["frames"] == len(read_events(events)) == frame_count(out) < 600
    assert not list(tmp_path.glob(".*partial*"))


@pytest.fixture(params=[signal.SIGHUP, signal.SIGINT], ids=["SIGHUP", "SIGINT"])
def ignored(request: pytest.FixtureRequest) -> Iterator[signal.Signals]:
    """A signal the parent process set to be ignored (``nohup``: SIGHUP; a background job: SIGINT)."""
    number = request.param
    previous = signal.signal(number, signal.SIG_IGN)
    try:
        yield number
    finally:
        signal.signal(number, previous)


@pytest.mark.device
def test_a_signal_the_parent_ignores_stays_ignored(
    ignored: signal.Signals, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Signalled(EventWriter):
        def write(self, event: dict) -> None:
            super().write(event)
            if event["event"] == "frame" and event["frame"] == 2:
                os.kill(os.getpid(), ignored)

    with stop_signals_as_ctrl_c():
        assert signal.getsignal(ignored) == signal.SIG_IGN
    monkeypatch.setattr(loop_module, "EventWriter", Signalled)
    events = tmp_path / "events.jsonl"
    summary = run_loop(camera([FakeCapture(10)]), EmotionRecognizer(detector="haar"), Outputs(events, max_frames=10))
    assert summary["frames"] == len(read_events(events)) == 10
    assert signal.getsignal(ignored) == signal.SIG_IGN


@pytest.mark.device
def test_nohup_keeps_running_after_the_terminal_closes(long_clip: Path, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    arguments = cli("run", "--video", str(long_clip), "--events", str(events), "--max-frames", "100")
    process = started(arguments, events, preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    process.send_signal(signal.SIGHUP)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert summary_of(stderr)["frames"] == len(read_events(events)) == 100


@pytest.fixture
def member(tmp_path: Path) -> Path:
    """A copy of a member folder kept in git: member.json, config.json, summary.json, its weights."""
    folder = tmp_path / "member"
    shutil.copytree(next((REPO / "members").glob("*/member.json")).parent, folder)
    return folder


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    """A run folder as far as convert looks before converting: its config.json, summary.json and a best epoch."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"arch": "vgg16", "data": "fer2013.csv"}))
    (folder / "summary.json").write_text(json.dumps({"best_epoch": 3}))
    (folder / "best.keras").write_bytes(b"")  # never read: the output is refused first
    return folder


def convert(*arguments: str) -> Result:
    return runner.invoke(app, ["convert", *arguments])


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["", "force"])
@pytest.mark.parametrize(
    ("kind", "name"), [("member", "member"), ("member", "config"), ("run", "config"), ("run", "summary")]
)
def test_convert_never_writes_its_metadata_over_a_run_folders_own_file(
    kind: str, name: str, force: list[str], request: pytest.FixtureRequest, fer_csv: Path
) -> None:
    folder = request.getfixturevalue("member" if kind == "member" else "run_folder")
    own = folder / f"{name}.json"
    before = snapshot(*folder.iterdir())
    out = folder / f"{name}.tflite"
    result = convert(str(folder), "--out", str(out), "--data", str(fer_csv), "--max-drop", "100", *force)
    assert_refused(result, str(own), f"the {kind} folder's own file; choose another --out")
    assert snapshot(*folder.iterdir()) == before  # no .tflite, no temporary, every file as it was


def test_convert_asks_before_replacing_a_json_that_is_not_a_models_metadata(run_folder: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": true}')
    before = snapshot(notes)
    result = convert(str(run_folder), "--out", str(tmp_path / "notes.tflite"), "--data", str(tmp_path / "none.csv"))
    assert_refused(result, f"{notes} exists and is not a model's metadata", "--force")
    assert snapshot(notes) == before
    forced = convert(str(run_folder), "--out", str(tmp_path / "notes.tflite"), "--data", str(tmp_path / "none.csv"),
                     "--force")  # fmt: skip
    assert_refused(forced, "best.keras: cannot read it")  # past the check: --force replaces the file; the model fails


def test_convert_replaces_an_earlier_models_metadata_without_force(run_folder: Path, tmp_path: Path) -> None:
    (tmp_path / "model.json").write_text(json.dumps(asdict(ModelMetadata())))  # its model deleted
    result = convert(str(run_folder), "--out", str(tmp_path / "model.tflite"), "--data", str(tmp_path / "none.csv"))
    assert_refused(result, "best.keras: cannot read it")  # past the check: the (empty) run is what fails
