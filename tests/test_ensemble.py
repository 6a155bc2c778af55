"""One graph for several members: the mean of their probabilities, converted to int8 like any model."""

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from edge_emotion.convert.edgetpu import op_report
from edge_emotion.convert.ensemble import combine
from edge_emotion.convert.quantize import representative_faces, to_tflite
from edge_emotion.device.engine.classifier import Classifier
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.preprocess import scale
from edge_emotion.training.data import load_faces
from edge_emotion.training.run_folder import load_best_model


@pytest.fixture(scope="module")
def members(trained_run: Path) -> list:
    first, config = load_best_model(trained_run)
    second, _ = load_best_model(trained_run)
    rng = np.random.default_rng(0)
    second.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in second.get_weights()])
    return [(first, {"run": "a", **asdict(config)}), (second, {"run": "b", **asdict(config)})]


def test_ensemble_averages_its_members(members: list, fer_csv: Path) -> None:
    models, origins = zip(*members, strict=True)
    model, origin = combine(models, origins)
    inputs = scale(load_faces(fer_csv, "PublicTest").images)
    each = [m.predict(inputs, verbose=0) for m in models]
    assert not np.allclose(each[0], each[1], atol=1e-3)  # two different members
    np.testing.assert_allclose(model.predict(inputs, verbose=0), np.mean(each, axis=0), atol=1e-5)
    assert [o["run"] for o in origin["members"]] == ["a", "b"] and origin["low_pass"] == 0.0


def test_int8_ensemble_is_one_call_of_mapped_ops(members: list, fer_csv: Path, tmp_path: Path) -> None:
    models, origins = zip(*members, strict=True)
    model, _ = combine(models, origins)
    calibration = representative_faces(load_faces(fer_csv, "Training"), 70, seed=0)
    path = tmp_path / "ensemble.tflite"
    path.write_bytes(to_tflite(model, "int8", calibration))
    faces = load_faces(fer_csv, "PublicTest")
    probabilities = Classifier(path).predict(scale(faces.images))
    float_probs = model.predict(scale(faces.images), verbose=0)
    assert (probabilities.argmax(1) == float_probs.argmax(1)).mean() >= 0.9
    report = op_report(path)
    assert report["float_tensors"] == []
    assert all(op["edgetpu"] for op in report["ops"] if op["op"] != "SHAPE")  # SHAPE: the tiny net's Flatten


@pytest.mark.parametrize("problem", ["one", "sigma"])
def test_members_that_do_not_fit_together(problem: str, members: list) -> None:
    models, origins = zip(*members, strict=True)
    if problem == "one":
        models, origins = models[:1], origins[:1]
    else:
        origins = (origins[0], {**origins[1], "low_pass": 0.7})
    with pytest.raises(EdgeEmotionError, match=r"at least two|low_pass"):
        combine(models, origins)


def test_convert_takes_several_members_as_one_ensemble(
    trained_run: Path, fer_csv: Path, int8_model: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from edge_emotion.cli import app

    out = tmp_path / "ensemble.tflite"
    args = ["convert", str(trained_run), str(trained_run), "--int8", "--data", str(fer_csv), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--calibration-faces", "70", "--max-drop", "100"])
    assert result.exit_code == 0, result.output
    metadata = json.loads(out.with_suffix(".json").read_text())
    assert [member["run"] for member in metadata["source"]["members"]] == [str(trained_run)] * 2
    # Two copies of one model average to that model: the ensemble agrees with the single int8 model.
    inputs = scale(load_faces(fer_csv, "PublicTest").images)
    single, double = Classifier(int8_model).predict(inputs), Classifier(out).predict(inputs)
    assert (single.argmax(1) == double.argmax(1)).mean() >= 0.9
