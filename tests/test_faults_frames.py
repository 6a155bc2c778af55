"""Frames, photos and models the device side takes as they are, or refuses with one error naming the problem.

Frames too small to search, grey frames with a channel axis, image headers that hide their size,
unreadable photos in a folder, and models whose tensors or sidecar break their contract. Only the
tests that build a model need TensorFlow; the rest run on the shipped model.
"""

import json
import logging
import math
import shutil
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner, Result

from edge_emotion.cli import app
from edge_emotion.device.engine import classifier, detector
from edge_emotion.device.engine.classifier import Classifier
from edge_emotion.device.engine.detector import Detection, HaarDetector, YuNetDetector
from edge_emotion.device.engine.recognizer import EmotionRecognizer
from edge_emotion.device.engine.settings import DetectorSettings
from edge_emotion.device.io.image_header import image_size
from edge_emotion.device.io.sources import open_folder
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.labels import CLASS_NAMES
from edge_emotion.metadata import ModelMetadata
from edge_emotion.shipped import shipped_model

pytestmark = pytest.mark.faults
runner = CliRunner()
SEVEN = list(CLASS_NAMES)


def one_error(result: Result, words: str) -> None:
    """Exit code 1 and a single line on stderr: ``error: ...`` holding ``words``, no traceback."""
    assert isinstance(result.exception, SystemExit) and result.exception.code == 1, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and words in line, line


def summary_of(result: Result) -> dict:
    return json.loads(next(line for line in result.stderr.splitlines() if line.startswith("{")))["summary"]


class WholeFrame:
    """A detector that calls the whole frame a face, so every call classifies its own input."""

    def detect(self, frame: np.ndarray) -> list[Detection]:
        return [Detection((0, 0, frame.shape[1], frame.shape[0]), 1.0)]


def refuse_decoding(*args: object, **kwargs: object) -> None:
    raise AssertionError("decoded an image whose header should have stopped it")


# Frames too small to search


@pytest.mark.device
@pytest.mark.parametrize("name", ["yunet", "haar"])
@pytest.mark.parametrize("shape", [(1, 2000, 3), (2000, 1, 3), (2, 4000), (32, 640, 3), (32, 32)])
def test_predict_refuses_a_frame_too_small_to_search(name: str, shape: tuple[int, ...]) -> None:
    size = f"{shape[1]}x{shape[0]}"
    with pytest.raises(EdgeEmotionError, match=rf"a {size} frame is too small to search for faces: both sides need"):
        EmotionRecognizer(detector=name).predict(np.zeros(shape, np.uint8))


@pytest.mark.device
def test_a_very_wide_or_tall_frame_is_searched_with_its_shorter_side_at_the_minimum() -> None:
    least = detector.MIN_SIDE
    stream, chosen = YuNetDetector(), HaarDetector(DetectorSettings("haar", detect_width=32))
    assert stream.ratio(20000, 40) == least / 40  # not 320 / 20000, which leaves 0.64 of a row
    assert stream.ratio(40, 20000) == 1.0  # a tall frame narrower than 320 px: searched as it is
    assert stream.ratio(640, 480) == 0.5 and stream.ratio(640) == 0.5  # an ordinary frame as before
    assert chosen.ratio(640, 480) == least / 480  # YuNet makes up faces in a search 32 px or less high
    assert EmotionRecognizer().predict(np.zeros((least, 20000, 3), np.uint8)) == []
    assert EmotionRecognizer(photos=True, detector="haar").predict(np.zeros((9000, least), np.uint8)) == []


@pytest.mark.device
def test_run_refuses_a_thin_image_or_video_in_one_line(tmp_path: Path) -> None:
    image = tmp_path / "wide.png"
    cv2.imwrite(str(image), np.zeros((1, 20000, 3), np.uint8))
    one_error(runner.invoke(app, ["run", "--image", str(image)]), "20000x1 pixels is too small to search for faces")
    video = tmp_path / "wide.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (4000, 2))
    for _ in range(3):
        writer.write(np.zeros((2, 4000, 3), np.uint8))
    writer.release()
    one_error(runner.invoke(app, ["run", "--video", str(video)]), "a 4000x2 frame is too small to search for faces")


# Grey frames with a channel axis


@pytest.mark.device
def test_a_grey_frame_with_a_channel_axis_is_taken_as_grey() -> None:
    face = np.random.default_rng(0).integers(0, 256, size=(48, 48), dtype=np.uint8)
    recognizer = EmotionRecognizer(detector=WholeFrame())
    (flat,), (axis,) = recognizer.predict(face), recognizer.predict(face[..., np.newaxis])
    assert axis.probabilities == flat.probabilities
    blank = np.zeros((120, 160, 1), np.uint8)
    assert EmotionRecognizer().predict(blank) == []  # through YuNet, which takes BGR
    assert EmotionRecognizer(photos=True).predict(blank) == []  # turned and at two scales too
    assert YuNetDetector().detect(blank) == []


@pytest.mark.device
@pytest.mark.parametrize(
    ("frame", "named"),
    [
        (np.zeros((60, 60, 2), np.uint8), "shape (60, 60, 2)"),
        (np.zeros((60, 60, 5), np.uint8), "shape (60, 60, 5)"),
        (np.zeros((60, 60, 1, 1), np.uint8), "shape (60, 60, 1, 1)"),
        (np.zeros((60, 60, 1), np.int16), "got int16"),
        (np.zeros((60, 60, 1), np.float32), "got float32"),
    ],
)
def test_other_channel_counts_and_types_are_named(frame: np.ndarray, named: str) -> None:
    with pytest.raises(EdgeEmotionError, match="expected a uint8 image") as error:
        EmotionRecognizer().predict(frame)
    assert named in str(error.value)


# Image headers


def jpeg_segments(picture: np.ndarray) -> tuple[list[bytes], bytes]:
    """A JPEG of ``picture`` as OpenCV writes it: its segments between SOI and SOS, and the scan from SOS on."""
    data = cv2.imencode(".jpg", picture)[1].tobytes()
    segments, at = [], 2
    while data[at + 1] != 0xDA:
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        segments.append(data[at : at + 2 + length])
        at += 2 + length
    return segments, data[at:]


PICTURE = np.random.default_rng(1).integers(0, 256, size=(24, 40, 3), dtype=np.uint8)


def jpeg_variants() -> dict[str, bytes]:
    """Legal JPEGs (libjpeg decodes each) whose frame header is not where a naive walk looks."""
    segments, scan = jpeg_segments(PICTURE)
    (frame,) = [s for s in segments if s[1] == 0xC0]
    tables = [s for s in segments if s[1] == 0xC4]  # DHT: its length bytes are no size
    others = [s for s in segments if s[1] not in (0xC0, 0xC4)]
    return {
        "fill bytes": b"\xff\xd8" + b"".join(b"\xff\xff\xff" + s for s in segments) + b"\xff" + scan,
        "RST and TEM": b"\xff\xd8" + b"".join(b"\xff\xd0\xff\x01" + s for s in segments) + scan,
        "stuffed 0xFF00": b"\xff\xd8" + b"".join(b"\xff\x00" + s for s in segments) + scan,
        "tables first": b"\xff\xd8" + b"".join([*others, *tables, frame]) + scan,
        "SOF1": b"\xff\xd8" + b"".join([*others, b"\xff\xc1" + frame[2:], *tables]) + scan,
    }


@pytest.mark.device
@pytest.mark.parametrize("name", list(jpeg_variants()))
def test_the_jpeg_size_read_is_the_size_decoded(name: str, tmp_path: Path) -> None:
    path = tmp_path / "variant.jpg"
    path.write_bytes(jpeg_variants()[name])
    decoded = cv2.imread(str(path))
    assert decoded is not None and decoded.shape[:2] == PICTURE.shape[:2]
    assert image_size(path) == (40, 24)


def huge_jpeg(code: int = 0xC0, fill: bytes = b"\xff") -> bytes:
    """A tiny JPEG whose frame header, turned into marker ``code`` with ``fill`` before it, says 20000x20000."""
    data = bytearray(cv2.imencode(".jpg", np.zeros((16, 16, 3), np.uint8))[1].tobytes())
    at = data.index(b"\xff\xc0")
    data[at + 1] = code
    data[at + 5 : at + 9] = struct.pack(">HH", 20000, 20000)  # height, width
    return bytes(data[:at] + fill + data[at:])


SIZE_CODES = [0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF]  # SOF0-3, 5-7, 9-11, 13-15


@pytest.mark.device
@pytest.mark.parametrize("code", [*SIZE_CODES, 0xC4, 0xC8, 0xCC])  # and DHT, JPG, DAC, which are no frame header
def test_every_frame_header_gives_the_size(code: int, tmp_path: Path) -> None:
    path = tmp_path / "huge.jpg"
    path.write_bytes(huge_jpeg(code, b"\xff" * 3))
    assert image_size(path) == ((20000, 20000) if code in SIZE_CODES else None)


@pytest.mark.device
def test_a_fill_byte_cannot_hide_a_huge_jpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "huge.jpg"
    path.write_bytes(huge_jpeg())  # 632 bytes that would decode to 1.2 GB
    monkeypatch.setattr(cv2, "imread", refuse_decoding)
    one_error(runner.invoke(app, ["run", "--image", str(path)]), "20000x20000 pixels is over the 50 megapixel limit")


@pytest.mark.device
def test_a_pnm_height_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "long.pgm"
    path.write_bytes(b"P5\n# " + b"x" * 50 + b"\n20000 20000\n255\n")  # the first 64 bytes end inside the height
    assert image_size(path) == (20000, 20000)


@pytest.mark.device
def test_an_os2_bitmap_gives_its_16_bit_size(tmp_path: Path) -> None:
    width, height = 5, 3
    row = bytes(3 * width) + bytes(-3 * width % 4)
    header = struct.pack("<IHHHH", 12, width, height, 1, 24)  # BITMAPCOREHEADER
    path = tmp_path / "os2.bmp"
    path.write_bytes(b"BM" + struct.pack("<IHHI", 26 + len(row) * height, 0, 0, 26) + header + row * height)
    assert cv2.imread(str(path)).shape[:2] == (height, width)
    assert image_size(path) == (width, height)


@pytest.mark.device
@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("cut-before-its-frame-header.jpg", huge_jpeg()[:40]),
        ("ends-before-its-frame-header.jpg", b"\xff\xd8\xff\xfe\x00\x04ab\xff\xd9"),
        ("scan-before-its-frame-header.jpg", b"\xff\xd8\xff\xda\x00\x02" + bytes(64)),
        ("notes.png", b"not a picture at all"),
        ("comment-too-long.pgm", b"P5\n#" + b"x" * 5000 + b"\n20000 20000\n255\n"),
    ],
)
def test_an_image_whose_header_gives_no_size_is_refused_undecoded(
    name: str, content: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert image_size(path) is None
    monkeypatch.setattr(cv2, "imread", refuse_decoding)
    one_error(runner.invoke(app, ["run", "--image", str(path)]), "whose header gives its size")


# Unreadable photos in a folder


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.png", "d.png"):
        cv2.imwrite(str(folder / name), np.full((64, 64, 3), 128, np.uint8))
    (folder / "b.png").write_text("not a picture")
    (folder / "c.jpg").write_bytes(huge_jpeg())
    return folder


@pytest.mark.device
def test_an_unreadable_photo_in_a_folder_is_skipped_and_counted(
    mixed_folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    events = tmp_path / "events.jsonl"
    with caplog.at_level(logging.WARNING, logger="edge_emotion.device.io.sources"):
        result = runner.invoke(app, ["run", "--dir", str(mixed_folder), "--events", str(events)])
    assert result.exit_code == 0, result.output
    summary = summary_of(result)
    assert summary["frames"] == 2 and summary["frames_skipped"] == 2
    lines = [json.loads(line) for line in events.read_text().splitlines()[1:]]  # after the settings
    assert [(line["frame"], line["source"]) for line in lines] == [(0, "a.png"), (1, "d.png")]
    warned = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any("b.png" in m and "skipped" in m for m in warned)
    assert any("c.jpg" in m and "50 megapixel" in m for m in warned)


@pytest.mark.device
def test_a_folder_source_counts_what_it_skips(mixed_folder: Path) -> None:
    source = open_folder(mixed_folder)
    assert [frame.name for frame in source.frames()] == ["a.png", "d.png"]
    assert source.skipped == 2


@pytest.mark.device
def test_a_folder_with_no_readable_photo_is_one_error(mixed_folder: Path) -> None:
    for name in ("a.png", "d.png"):
        (mixed_folder / name).unlink()
    result = runner.invoke(app, ["run", "--dir", str(mixed_folder)])
    assert isinstance(result.exception, SystemExit) and result.exception.code == 1, result.output
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert "none of its 2 images could be read" in line


@pytest.mark.device
def test_one_unreadable_image_is_still_an_error(mixed_folder: Path) -> None:
    result = runner.invoke(app, ["run", "--image", str(mixed_folder / "b.png")])
    one_error(result, "b.png: not an image whose header gives its size")


# The model's contract


class FakeInterpreter:
    """Tensor details as a TFLite interpreter gives them (numpy int32 shapes); resizing the input of a
    dynamic model makes its output (batch, classes) as a real one would."""

    def __init__(self, inputs: tuple, outputs: tuple, signature: tuple | None = None) -> None:
        self.inputs, self.outputs, self.signature = inputs, outputs, signature or inputs
        self.resized: list[int] | None = None

    def get_input_details(self) -> list[dict]:
        shapes = {"shape": np.array(self.inputs, np.int32), "shape_signature": np.array(self.signature, np.int32)}
        return [{"index": 0, **shapes, "dtype": np.int8, "quantization": (1 / 255, -128)}]

    def get_output_details(self) -> list[dict]:
        return [{"index": 1, "shape": np.array(self.outputs, np.int32), "dtype": np.int8, "quantization": (0.0, 0)}]

    def resize_tensor_input(self, index: int, shape: list[int]) -> None:
        self.resized = shape

    def allocate_tensors(self) -> None:
        if self.resized is not None:
            self.inputs = tuple(self.resized)


def with_sidecar(tmp_path: Path, sidecar: dict | None) -> Path:
    model = tmp_path / "model.tflite"
    if sidecar is not None:
        model.with_suffix(".json").write_text(json.dumps(sidecar))
    return model


# input shape, output shape, sidecar (None: none), words the one error holds
BROKEN = {
    "RGB input": ((1, 48, 48, 3), (1, 7), None, "input shape (1, 48, 48, 3) is not a square grey image"),
    "no batch axis": ((48, 48, 1), (1, 7), None, "input shape (48, 48, 1) is not a square grey image"),
    "32x32 input": ((1, 32, 32, 1), (1, 7), {}, "input is 32x32, but its metadata says 48x48"),
    "32x32 without a sidecar": ((1, 32, 32, 1), (1, 7), None, "input is 32x32, but faces are 48x48"),
    "sidecar says 32": ((1, 32, 32, 1), (1, 7), {"input_size": 32}, "input_size 32, but faces are 48x48"),
    "scores in a grid": ((1, 48, 48, 1), (1, 7, 2), None, "output shape (1, 7, 2) is not class scores per face"),
    "no batch in the output": ((1, 48, 48, 1), (7,), None, "output shape (7,) is not class scores per face"),
    "5 classes, no sidecar": ((1, 48, 48, 1), (1, 5), None, "5 classes and no sidecar model.json to name them"),
    "5 classes, 7 names": ((1, 48, 48, 1), (1, 5), {}, "5 outputs but 7 class_names"),
    "a name twice": ((1, 48, 48, 1), (1, 7), {"class_names": [*SEVEN[:6], "happy"]}, "names happy more than once"),
    "blur NaN": ((1, 48, 48, 1), (1, 7), {"low_pass_sigma": math.nan}, "low_pass_sigma nan is not a blur of 0 to 3"),
    "blur 5": ((1, 48, 48, 1), (1, 7), {"low_pass_sigma": 5}, "low_pass_sigma 5 is not a blur of 0 to 3 pixels"),
    "blur negative": ((1, 48, 48, 1), (1, 7), {"low_pass_sigma": -1.0}, "low_pass_sigma -1.0 is not a blur"),
}


@pytest.mark.device
@pytest.mark.parametrize("case", list(BROKEN))
def test_a_model_that_breaks_its_contract_is_one_error(case: str, tmp_path: Path) -> None:
    inputs, outputs, sidecar, words = BROKEN[case]
    model = with_sidecar(tmp_path, sidecar)
    with pytest.raises(EdgeEmotionError) as error:
        classifier.check_contract(model, FakeInterpreter(inputs, outputs), None)
    assert words in str(error.value) and "np." not in str(error.value)


@pytest.mark.device
def test_a_model_that_keeps_its_contract_gets_its_metadata(tmp_path: Path) -> None:
    check = classifier.check_contract
    assert check(tmp_path / "none.tflite", FakeInterpreter((1, 48, 48, 1), (1, 7)), None).class_names == SEVEN
    assert check(tmp_path / "none.tflite", FakeInterpreter((1, 48, 48, 1), (1, 1, 7)), None).class_names == SEVEN
    five = with_sidecar(tmp_path, {"class_names": ["a", "b", "c", "d", "e"], "low_pass_sigma": 3.0})
    assert check(five, FakeInterpreter((1, 48, 48, 1), (1, 5)), None).class_names == ["a", "b", "c", "d", "e"]
    given = ModelMetadata(class_names=["x", "y"])  # what convert passes for a model it is writing
    assert check(five, FakeInterpreter((1, 48, 48, 1), (1, 2)), given) is given


@pytest.mark.device
def test_a_dynamic_size_model_is_resized_to_its_contract(tmp_path: Path) -> None:
    interpreter = FakeInterpreter((1, 1, 1, 1), (1, 7), signature=(-1, -1, -1, 1))
    classifier.check_contract(tmp_path / "dynamic.tflite", interpreter, None)
    assert interpreter.resized == [1, 48, 48, 1]


@pytest.fixture
def shipped_copy(tmp_path: Path) -> Path:
    model = tmp_path / "model.tflite"
    shutil.copy(shipped_model(), model)
    return model


@pytest.mark.device
@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"class_names": [*SEVEN[:6], "angry"]}, "class_names names angry more than once"),
        ({"low_pass_sigma": math.nan}, "low_pass_sigma nan is not a blur of 0 to 3 pixels"),
        ({"low_pass_sigma": 40.0}, "low_pass_sigma 40.0 is not a blur of 0 to 3 pixels"),
        ({"class_names": SEVEN[:5]}, "7 outputs but 5 class_names"),
    ],
)
def test_run_refuses_the_shipped_model_under_a_broken_sidecar(
    change: dict, words: str, shipped_copy: Path, tmp_path: Path
) -> None:
    sidecar = json.loads(shipped_model().with_suffix(".json").read_text())
    shipped_copy.with_suffix(".json").write_text(json.dumps({**sidecar, **change}))
    image = tmp_path / "grey.png"
    cv2.imwrite(str(image), np.full((64, 64, 3), 128, np.uint8))
    one_error(runner.invoke(app, ["run", "--image", str(image), "--model", str(shipped_copy)]), words)


@pytest.mark.device
def test_the_shipped_model_without_its_sidecar_is_taken_as_fer2013s(shipped_copy: Path) -> None:
    assert Classifier(shipped_copy).class_names == SEVEN


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, object]]:
    """Tiny float models the converter makes from Keras (about a second each), with their Keras originals."""
    pytest.importorskip("tensorflow")
    from edge_emotion.training.tf_import import import_keras, import_tf

    keras, tf = import_keras(), import_tf()
    layers, folder = keras.layers, tmp_path_factory.mktemp("shapes")
    rng = np.random.default_rng(3)
    names = {"squeezed": SEVEN, "dynamic": SEVEN, "five": ["angry", "happy", "sad", "surprise", "neutral"]}
    stacks = {
        "squeezed": [keras.Input((48, 48, 1)), layers.Flatten(), layers.Dense(7), layers.Reshape((1, 7))],
        "dynamic": [keras.Input((None, None, 1)), layers.Conv2D(4, 3), layers.GlobalMaxPooling2D(), layers.Dense(7)],
        "five": [keras.Input((48, 48, 1)), layers.Flatten(), layers.Dense(5)],
    }
    models = {}
    for name, stack in stacks.items():
        model = keras.Sequential([*stack, layers.Softmax()])
        model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
        path = folder / f"{name}.tflite"
        path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
        path.with_suffix(".json").write_text(json.dumps({"class_names": names[name]}))
        models[name] = (path, model)
    return models


@pytest.mark.parametrize("name", ["squeezed", "dynamic", "five"])
def test_built_models_of_other_shapes_run_as_their_keras_originals(name: str, built: dict) -> None:
    path, model = built[name]
    faces = np.random.default_rng(4).random((3, 48, 48, 1), dtype=np.float32)
    loaded = Classifier(path)
    expected = np.asarray(model(faces)).reshape(3, -1)  # a dynamic model at 1x1 would give other scores
    np.testing.assert_allclose(loaded.predict(faces), expected, atol=1e-5)
    assert loaded.input_size == 48 and len(loaded.class_names) == expected.shape[1]
    (face,) = EmotionRecognizer(path, detector=WholeFrame()).predict(np.full((64, 64), 128, np.uint8))
    assert list(face.probabilities) == loaded.class_names


def test_evaluate_refuses_a_model_of_other_classes_in_one_line(built: dict, fer_csv: Path, tmp_path: Path) -> None:
    path, _ = built["five"]
    result = CliRunner().invoke(app, ["evaluate", str(path), "--data", str(fer_csv), "--out", str(tmp_path / "r")])
    one_error(result, "cannot be scored on FER2013's labels")
    assert not (tmp_path / "r" / "metrics.json").exists()
