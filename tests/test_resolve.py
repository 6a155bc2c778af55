"""One resolver for a model path: a run folder, a .keras file, a .tflite model, each predicting as it will be used."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edge_emotion.cli import app
from edge_emotion.data import load_faces
from edge_emotion.device.classifier import Classifier
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.metadata import sidecar_path
from edge_emotion.preprocess import scale
from edge_emotion.resolve import find_model, load_classifier, load_model, model_kind, tflite_model
from edge_emotion.shipped import shipped_model

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


def test_a_tflite_model_predicts_as_the_device_runs_it(int8_model: Path, fer_csv: Path) -> None:
    faces = load_faces(fer_csv, "PublicTest")
    loaded = load_model(int8_model)
    inputs = scale(faces.images)
    np.testing.assert_array_equal(loaded.predict(faces), Classifier(int8_model).predict(inputs))
    mirrored = Classifier(int8_model, mirror=True).predict(inputs)
    np.testing.assert_allclose(loaded.predict(faces, mirror=True), mirrored, atol=1e-6)
    with pytest.raises(EdgeEmotionError, match="already a TFLite model; give the run folder"):
        load_model(int8_model, keras=True)


def test_a_shipped_name_resolves_wherever_a_model_is_named(trained_run: Path) -> None:
    assert find_model("accurate") == (shipped_model("accurate"), "tflite")
    assert find_model(None) == (shipped_model("fast"), "tflite")
    with pytest.raises(EdgeEmotionError, match=r"^fast \(the shipped model emotion_int8\.tflite\) is already a TFLite"):
        find_model("fast", keras=True)  # --init-from, convert: Keras weights only
    assert load_classifier("accurate", threads=1).class_names == load_model("accurate").class_names
    with pytest.raises(EdgeEmotionError, match=f"convert it first: edge-emotion convert {trained_run} --int8"):
        tflite_model(trained_run)


def test_an_empty_folder_is_no_run(tmp_path: Path) -> None:
    with pytest.raises(EdgeEmotionError, match="is not a training run"):
        model_kind(tmp_path)


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
