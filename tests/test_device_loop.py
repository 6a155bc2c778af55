import json
import os
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest
from fakes import FakeCapture, ScriptedDetector, assert_one_error, camera, read_events, write_video
from typer.testing import CliRunner

from edge_emotion.cli import app
from edge_emotion.device.engine.recognizer import EmotionRecognizer
from edge_emotion.device.engine.settings import Outputs
from edge_emotion.device.io import loop
from edge_emotion.device.io.events import EventWriter
from edge_emotion.device.io.loop import run_loop
from edge_emotion.device.io.sources import CaptureSource

runner = CliRunner()


def recognizer(model: Path, **options: object) -> EmotionRecognizer:
    return EmotionRecognizer(model, detector=ScriptedDetector(**options), track=True)


@pytest.mark.device
def test_events_for_every_frame_including_empty_ones(tiny_model: Path, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    summary = run_loop(camera([FakeCapture(6)]), recognizer(tiny_model, empty={3, 4}), Outputs(events, max_frames=6))
    lines = read_events(events)
    assert [e["frame"] for e in lines] == list(range(6))
    # A face is reported from its third frame (min_frames 3), and keeps its id across the gap.
    assert [len(e["faces"]) for e in lines] == [0, 0, 1, 0, 0, 1]
    (enter,) = read_events(events, "face_enter")
    assert enter["frame"] == 2 and enter["id"] == 1 and enter["label"] == lines[2]["faces"][0]["label"]
    face = lines[2]["faces"][0]
    assert face["id"] == 1 and face["box"] == [22, 20, 60, 60] and face["score"] == 0.9  # drifted 2 px
    assert face["landmarks"] == [[37, 40], [67, 40], [52, 55], [40, 68], [64, 68]]
    assert face["label"] in face["probabilities"] and sum(face["probabilities"].values()) == pytest.approx(1, abs=0.03)
    assert face["calibrating"] is False and lines[5]["faces"][0]["id"] == 1
    assert set(lines[0]["latency_ms"]) == {"capture", "detect", "classify"}
    assert summary["frames"] == 6 and summary["source_lost"] is False
    assert set(summary["latency_ms"]["classify"]) == {"median", "p95"}


@pytest.mark.device
def test_camera_lost_mid_run_stops_cleanly_with_events_kept(tiny_model: Path, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    dead = [FakeCapture(0, opened=False), FakeCapture(0, opened=False)]
    summary = run_loop(camera([FakeCapture(100, fail_after=4), *dead]), recognizer(tiny_model), Outputs(events=events))
    assert summary["source_lost"] is True and summary["frames"] == 4
    assert len(read_events(events)) == 4


@pytest.mark.device
def test_camera_that_comes_back_is_reopened(tiny_model: Path, tmp_path: Path) -> None:
    source = camera([FakeCapture(100, fail_after=3), FakeCapture(0, opened=False), FakeCapture(5)])
    summary = run_loop(source, recognizer(tiny_model), Outputs(events=tmp_path / "e.jsonl", max_frames=8))
    assert summary["source_lost"] is False and summary["frames"] == 8


@pytest.mark.device
def test_absent_camera_is_a_clear_error(tiny_model: Path) -> None:
    result = runner.invoke(app, ["run", "--camera", "57", "--model", str(tiny_model)])
    assert_one_error(result, "camera 57 not found")


@pytest.mark.device
def test_video_in_annotated_video_and_events_out(tiny_model: Path, astronaut: Path, tmp_path: Path) -> None:
    clip = write_video(tmp_path / "clip.avi", 8, cv2.resize(cv2.imread(str(astronaut)), (320, 320)))
    out, events = tmp_path / "out.mp4", tmp_path / "events.jsonl"
    args = [
        "run",
        "--video",
        str(clip),
        "--model",
        str(tiny_model),
        "--save",
        str(out),
        "--events",
        str(events),
    ]
    result = runner.invoke(app, [*args, "--max-frames", "6"])
    assert result.exit_code == 0, result.output
    lines = read_events(events)
    assert len(lines) == 6
    assert [len(e["faces"]) for e in lines] == [0, 0, 1, 1, 1, 1]  # reported from its third frame
    assert len({e["faces"][0]["id"] for e in lines[2:]}) == 1  # one face, one id for the whole clip
    saved = cv2.VideoCapture(str(out))
    assert int(saved.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
    assert not list(tmp_path.glob(".*partial*"))


@pytest.mark.device
def test_image_in_annotated_image_out(tiny_model: Path, astronaut: Path, tmp_path: Path) -> None:
    out = tmp_path / "annotated.png"
    result = runner.invoke(app, ["run", "--image", str(astronaut), "--model", str(tiny_model), "--save", str(out)])
    assert result.exit_code == 0, result.output
    header, event = map(json.loads, result.stdout.splitlines())
    assert header["event"] == "settings"
    (face,) = event["faces"]
    x, y, w, _ = face["box"]
    assert abs(x - 177) < 15 and abs(y - 66) < 15 and 80 < w < 115  # Eileen Collins' face
    annotated, original = cv2.imread(str(out)), cv2.imread(str(astronaut))
    assert annotated.shape == original.shape and not np.array_equal(annotated, original)


@pytest.mark.device
def test_folder_of_images(tiny_model: Path, astronaut: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), cv2.imread(str(astronaut)))
    cv2.imwrite(str(folder / "blank.png"), np.zeros((100, 100, 3), np.uint8))
    result = runner.invoke(
        app, ["run", "--dir", str(folder), "--model", str(tiny_model), "--save", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    faces = [len(json.loads(line)["faces"]) for line in result.stdout.splitlines()[1:]]  # after the settings
    assert faces == [1, 0]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "blank.png"]


@pytest.mark.device
def test_show_without_a_display_runs_headless(
    tiny_model: Path, astronaut: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    shown: list[np.ndarray] = []
    monkeypatch.setattr(cv2, "imshow", lambda window, image: shown.append(image))
    monkeypatch.setattr(cv2, "waitKey", lambda delay: -1)
    monkeypatch.setattr(cv2, "destroyAllWindows", lambda: None)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    args = ["run", "--image", str(astronaut), "--model", str(tiny_model), "--show"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert shown == [] and "no display here" in caplog.text  # no window tried, and the user is told
    monkeypatch.setenv("DISPLAY", ":0")  # the same run where a display exists does open the window
    assert runner.invoke(app, args).exit_code == 0 and len(shown) == 1


@pytest.mark.device
@pytest.mark.parametrize(
    ("source", "message"),
    [
        (["--image", "{text}"], "not an image"),
        (["--video", "{text}"], "cannot"),
        (["--image", "{tmp}/absent.png"], "image not found"),
        (["--dir", "{tmp}/absent"], "folder not found"),
        (["--image", "{text}", "--video", "{text}"], "exactly one source"),
        ([], "exactly one source"),
    ],
)
def test_bad_sources(source: list[str], message: str, tiny_model: Path, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    args = [a.format(text=text, tmp=tmp_path) for a in source]
    result = runner.invoke(app, ["run", *args, "--model", str(tiny_model)])
    assert_one_error(result, message)


@pytest.mark.device
def test_missing_or_wrong_model(astronaut: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--image", str(astronaut), "--model", str(tmp_path / "none.tflite")])
    assert_one_error(result, "model not found")
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer")
    result = runner.invoke(app, ["run", "--image", str(astronaut), "--model", str(junk)])
    assert_one_error(result, "not a TFLite model")


def test_model_with_an_unexpected_input_is_refused(tmp_path: Path) -> None:
    from edge_emotion.errors import EdgeEmotionError
    from edge_emotion.training.tf_import import import_keras, import_tf

    keras, tf = import_keras(), import_tf()
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(7)])
    path = tmp_path / "rgb.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    with pytest.raises(EdgeEmotionError, match="not a square grey image"):
        EmotionRecognizer(path)


@pytest.mark.device
def test_python_api(tiny_model: Path, astronaut: Path) -> None:
    faces = EmotionRecognizer(tiny_model).predict(cv2.imread(str(astronaut)))
    assert len(faces) == 1
    face = faces[0]
    assert face.id is None and 0.5 <= face.score <= 1.0
    assert list(face.probabilities) == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    assert face.label == max(face.probabilities, key=face.probabilities.get)


@pytest.mark.device
def test_run_with_mirror(tiny_model: Path, astronaut: Path, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    args = ["run", "--image", str(astronaut), "--model", str(tiny_model), "--mirror", "--events", str(events)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (event,) = read_events(events)
    (face,) = event["faces"]
    plain = EmotionRecognizer(tiny_model, photos=True).predict(cv2.imread(str(astronaut)))[0]  # as run --image
    assert face["box"] == list(plain.box)
    assert face["probabilities"] != {k: round(v, 4) for k, v in plain.probabilities.items()}


@pytest.mark.device
def test_largest_keeps_the_largest_face(tiny_model: Path, astronaut: Path) -> None:
    image = cv2.imread(str(astronaut))
    canvas = np.zeros((480, 640, 3), np.uint8)
    canvas[:270, :270], canvas[100:, 260:] = cv2.resize(image, (270, 270)), cv2.resize(image, (380, 380))
    boxes = [face.box for face in EmotionRecognizer(tiny_model).predict(canvas)]
    assert len(boxes) == 2 and boxes[0][2] != boxes[1][2]  # two faces, of different sizes
    (face,) = EmotionRecognizer(tiny_model, largest=True).predict(canvas)
    assert face.box == max(boxes, key=lambda box: box[2] * box[3]) and face.box[0] > 260  # the big one, right


class InterruptingCapture(FakeCapture):
    """A camera run that the user stops with Ctrl-C after ``frames`` frames."""

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.read_count >= self.frames:
            raise KeyboardInterrupt
        return super().read()


@pytest.mark.device
def test_ctrl_c_keeps_the_video_and_the_events(tiny_model: Path, tmp_path: Path) -> None:
    source = CaptureSource(lambda: InterruptingCapture(4), "fake", live=True)
    out, events = tmp_path / "out.avi", tmp_path / "events.jsonl"
    summary = run_loop(source, recognizer(tiny_model), Outputs(events=events, save=out))
    assert summary["frames"] == 4 and len(read_events(events)) == 4
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == 4


class StoppedWriter(EventWriter):
    """Events whose third frame line comes with a Ctrl-C, between writing the line and the video frame."""

    def write(self, event: dict) -> None:
        super().write(event)
        if event["event"] == "frame" and event["frame"] == 2:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.device
def test_a_stop_between_the_events_and_the_video_waits_for_the_frame(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loop, "EventWriter", StoppedWriter)
    out, events = tmp_path / "out.avi", tmp_path / "events.jsonl"
    before = signal.getsignal(signal.SIGINT)  # Python's handler, or SIG_IGN in a shell's background job
    summary = run_loop(camera([FakeCapture(10)]), recognizer(tiny_model), Outputs(events=events, save=out))
    assert summary["frames"] == len(read_events(events)) == 3
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl-C is what it was again


@pytest.mark.device
def test_events_into_a_new_folder_or_an_unwritable_place(tiny_model: Path, astronaut: Path, tmp_path: Path) -> None:
    events = tmp_path / "new" / "events.jsonl"
    result = runner.invoke(app, ["run", "--image", str(astronaut), "--model", str(tiny_model), "--events", str(events)])
    assert result.exit_code == 0 and len(read_events(events)) == 1
    result = runner.invoke(app, ["run", "--image", str(astronaut), "--model", str(tiny_model), "--events", "/proc/x/e"])
    assert_one_error(result, "cannot write events")
