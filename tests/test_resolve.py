"""One resolver for a model path: a run folder, a .keras file, a .tflite model, each predicting as it will be used."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fakes import synthetic_faces
from typer.testing import CliRunner

from edge_emotion.cli import app
from edge_emotion.device.engine.classifier import Classifier
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.metadata import sidecar_path
from edge_emotion.resolve import load_classifier, tflite_model
from edge_emotion.shipped import shipped_model
from edge_emotion.training.data import FaceSet, load_faces
from edge_emotion.training.resolve import find_model, load_model, model_kind

runner = CliRunner()


def test_the_kind_of_each_path(trained_run: Path, int8_model: Path, fer_csv: Path, tmp_path: Path) -> None:
    assert model_kind(trained_run) == "run"
    assert model_kind(trained_run / "best.keras") == "keras"
    assert model_kind(int8_model) == "tflite"
    (tmp_path / "member.json").write_text("{}")
    assert model_kind(tmp_path) == "member"
    with pytest.raises(EdgeEmotionError, match="model not found"):
        model_kind(tmp_path / "absent.tflite")
    with pytest.raises(EdgeEmotionError, match=r"not a model; give a run folder, a member folder, a \.keras file"):
        model_kind(fer_csv)


def test_a_run_and_its_best_keras_file_predict_alike(trained_run: Path, fer_csv: Path, tmp_path: Path) -> None:
    faces = load_faces(fer_csv, "PublicTest")
    run, keras_file = load_model(trained_run, keras=True), load_model(trained_run / "best.keras", keras=True)
    assert run.origin["run"] == str(trained_run) and run.origin["arch"] == "tiny-test"
    assert keras_file.origin == {"model": str(trained_run / "best.keras")}
    np.testing.assert_allclose(run.predict(faces), keras_file.predict(faces), atol=1e-5)
    # evaluate takes a .keras file as it takes a run folder
    result = runner.invoke(
        app, ["evaluate", str(trained_run / "best.keras"), "--data", str(fer_csv), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    accuracy = (run.predict(faces).argmax(axis=1) == faces.labels).mean()
    assert json.loads((tmp_path / "metrics.json").read_text())["accuracy"] == pytest.approx(accuracy, abs=1e-4)


def by_hand(model: Path, images: np.ndarray) -> np.ndarray:
    """The model's probabilities for uint8 faces from a bare interpreter: each pixel / 255 quantised by the
    input tensor's scale and zero point, one invoke, the int8 output dequantised by the output tensor's."""
    litert = pytest.importorskip("ai_edge_litert.interpreter", reason="the reference runs LiteRT itself")
    interpreter = litert.Interpreter(model_path=str(model))
    given, taken = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(given["index"], [len(images), 48, 48, 1])
    interpreter.allocate_tensors()
    (in_scale, in_zero), (out_scale, out_zero) = given["quantization"], taken["quantization"]
    quantised = np.clip(np.round(images / 255 / in_scale) + in_zero, -128, 127).astype(np.int8)
    interpreter.set_tensor(given["index"], quantised[..., np.newaxis])
    interpreter.invoke()
    return (interpreter.get_tensor(taken["index"]).astype(np.float32) - out_zero) * out_scale


@pytest.mark.device
def test_a_tflite_model_predicts_as_a_bare_interpreter_runs_it(tiny_model: Path) -> None:
    images, labels = synthetic_faces(3, seed=5)
    faces = FaceSet(images, np.eye(7, dtype=np.float32)[labels], "generated")
    loaded = load_model(tiny_model)
    expected = by_hand(tiny_model, images)
    assert (expected.argmax(axis=1) == labels).mean() > 0.9  # the tiny model tells these faces apart
    np.testing.assert_allclose(loaded.predict(faces), expected, atol=1e-6)
    mirrored = (expected + by_hand(tiny_model, images[:, :, ::-1])) / 2
    np.testing.assert_allclose(loaded.predict(faces, mirror=True), mirrored, atol=1e-6)
    with pytest.raises(EdgeEmotionError, match="already a TFLite model; give the run folder"):
        load_model(tiny_model, keras=True)


def test_a_shipped_name_resolves_wherever_a_model_is_named(trained_run: Path) -> None:
    assert find_model("accurate") == (shipped_model("accurate"), "tflite")
    assert find_model(None) == (shipped_model("fast"), "tflite")
    with pytest.raises(EdgeEmotionError, match=r"^fast \(the shipped model emotion_int8\.tflite\) is already a TFLite"):
        find_model("fast", keras=True)  # --init-from, convert: Keras weights only
    assert load_classifier("accurate", threads=1).class_names == load_model("accurate").class_names
    with pytest.raises(EdgeEmotionError, match=f"convert it first: edge-emotion convert {trained_run} --int8"):
        tflite_model(trained_run)


@pytest.mark.device
def test_an_empty_folder_is_no_run(tmp_path: Path) -> None:
    with pytest.raises(EdgeEmotionError, match="is not a training run"):
        model_kind(tmp_path)


@pytest.mark.device
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"color": "rgb"}, "color 'rgb' and pixel_scale"),
        ({"pixel_scale": 1.0}, "color 'grey' and pixel_scale 1"),
        ({"quantization": "float32"}, "quantization float32, but the model takes int8 inputs"),
        ({"input_quantization": {"scale": 0.5, "zero_point": 0}}, "input_quantization .* is not the model's"),
        ({"output_quantization": {"scale": 0.00390625, "zero_point": 0}}, "output_quantization .* is not the model's"),
    ],
)
def test_every_field_of_the_contract_is_enforced(change: dict, message: str, tmp_path: Path) -> None:
    model = tmp_path / "model.tflite"
    shutil.copy(shipped_model(), model)
    sidecar = json.loads(sidecar_path(shipped_model()).read_text())
    sidecar_path(model).write_text(json.dumps({**sidecar, **change}))
    with pytest.raises(EdgeEmotionError, match=message):
        Classifier(model)
