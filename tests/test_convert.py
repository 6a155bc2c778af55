import json
import os
import stat
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edge_emotion import __version__
from edge_emotion.cli import app
from edge_emotion.convert.edgetpu import op_report
from edge_emotion.device.engine.classifier import Classifier
from edge_emotion.device.engine.interpreter import runtime_module
from edge_emotion.training.data import load_faces

runner = CliRunner()


def convert(*args: str) -> "object":
    return runner.invoke(app, ["convert", *args])


def test_int8_model_is_integer_end_to_end(int8_model: Path) -> None:
    interpreter = runtime_module().Interpreter(model_path=str(int8_model))
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
    report = op_report(int8_model)
    assert report["float_tensors"] == []
    mapped = {op["op"]: op["edgetpu"] for op in report["ops"]}
    assert mapped["CONV_2D"] and mapped["FULLY_CONNECTED"] and mapped["MAX_POOL_2D"]
    # The dynamic batch makes Flatten compute its shape at run time: an op the Edge TPU lacks.
    assert mapped["SHAPE"] is False
    assert report["dynamic_shapes"] and report["edgetpu_ready"] is False


def test_metadata_travels_with_the_model(int8_model: Path) -> None:
    metadata = json.loads(int8_model.with_suffix(".json").read_text())
    assert metadata["class_names"][3] == "happy" and metadata["input_size"] == 48
    assert metadata["quantization"] == "int8"
    assert metadata["input_quantization"]["zero_point"] == -128
    assert metadata["input_quantization"]["scale"] == pytest.approx(1 / 255)
    assert metadata["source"]["arch"] == "tiny-test" and metadata["source"]["calibration_faces"] == 70
    assert metadata["edge_emotion_version"] == __version__
    assert metadata["tensorflow_version"].split(".")[0] == "2"
    converted = datetime.fromisoformat(metadata["converted_at"])
    assert abs((datetime.now(timezone.utc) - converted).total_seconds()) < 24 * 3600
    check = metadata["check"]
    assert check["faces"] == 56 and 0.0 <= check["top1_agreement"] <= 1.0
    assert check["drop_points"] == pytest.approx(
        100 * (check["float_accuracy"] - check["converted_accuracy"]), abs=0.01
    )


def test_int8_agrees_with_the_float_model(int8_model: Path) -> None:
    check = json.loads(int8_model.with_suffix(".json").read_text())["check"]
    assert check["top1_agreement"] >= 0.9
    assert abs(check["drop_points"]) <= 5.0


def test_cli_convert_float16_and_the_table(trained_run: Path, fer_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "m16.tflite"
    result = convert(str(trained_run), "--mode", "float16", "--data", str(fer_csv), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "top-1 agreement" in result.output and "Edge TPU ready: False" in result.output
    assert np.dtype(Classifier(out).input["dtype"]) == np.float32
    again = convert(str(trained_run), "--mode", "float16", "--data", str(fer_csv), "--out", str(out))
    assert again.exit_code == 1 and "--force" in again.output


def test_max_drop_fails_loudly_and_writes_nothing(trained_run: Path, fer_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "strict.tflite"
    # A negative allowance fails any conversion that is not strictly better than its float model.
    result = convert(str(trained_run), "--int8", "--data", str(fer_csv), "--out", str(out), "--max-drop", "-50")
    assert result.exit_code == 1
    assert "nothing written" in result.output
    assert list(tmp_path.iterdir()) == []


def test_one_csv_is_parsed_once_for_calibration_and_check(
    trained_run: Path, fer_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edge_emotion.training import data

    parsed = []
    read = data.read_fer_csv
    monkeypatch.setattr(data, "read_fer_csv", lambda path: parsed.append(path) or read(path))
    out = tmp_path / "once.tflite"
    result = convert(str(trained_run), "--int8", "--data", str(fer_csv), "--out", str(out), "--max-drop", "100")
    assert result.exit_code == 0, result.output
    assert parsed == [fer_csv]
    assert json.loads(out.with_suffix(".json").read_text())["source"]["calibration_faces"] == 210


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "is not a training run"), ("model.keras", "not a Keras model"), ("notes.txt", "not a model")],
)
def test_not_a_model(name: str, message: str, fer_csv: Path, tmp_path: Path) -> None:
    source = tmp_path / name
    if name:
        source.write_text("junk")
    result = convert(str(source), "--int8", "--data", str(fer_csv), "--out", str(tmp_path / "m.tflite"))
    assert result.exit_code == 1 and message in result.output
    assert not (tmp_path / "m.tflite").exists()
    assert not list(tmp_path.glob(".*partial*"))


def test_wrong_input_shape_is_refused(tmp_path: Path, fer_csv: Path) -> None:
    from edge_emotion.training.tf_import import import_keras

    keras = import_keras()
    model = keras.Sequential([keras.Input((64, 64, 3)), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(7)])
    model.save(tmp_path / "rgb.keras")
    result = convert(str(tmp_path / "rgb.keras"), "--int8", "--data", str(fer_csv), "--out", str(tmp_path / "m.tflite"))
    assert (
        result.exit_code == 1 and "takes inputs of (None, 64, 64, 3); every model here takes 48x48x1" in result.output
    )


def test_missing_representative_data(trained_run: Path, tmp_path: Path) -> None:
    result = convert(
        str(trained_run), "--int8", "--data", str(tmp_path / "none.csv"), "--out", str(tmp_path / "m.tflite")
    )
    assert result.exit_code == 1 and "not found" in result.output


def fake_compiler(folder: Path, succeed: bool) -> None:
    """A stand-in edgetpu_compiler: copies the model to *_edgetpu.tflite, or fails like the real one."""
    script = folder / "edgetpu_compiler"
    body = (
        'out=""; while [ $# -gt 1 ]; do case "$1" in --out_dir) out="$2"; shift;; esac; shift; done\n'
        'name=$(basename "$1" .tflite); cp "$1" "$out/${name}_edgetpu.tflite"; echo "Model compiled successfully."\n'
        if succeed
        else 'echo "Model not compiled: unsupported op" >&2; exit 1\n'
    )
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


# One conversion shows the Edge TPU model's static batch; the compiler's other answers convert again (slow).
@pytest.mark.parametrize("compiler", ["absent", *(pytest.param(c, marks=pytest.mark.slow) for c in ("works", "fails"))])
def test_edgetpu_compile(
    compiler: str, trained_run: Path, fer_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if compiler != "absent":
        fake_compiler(bin_dir, succeed=compiler == "works")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    out = tmp_path / "out" / "m.tflite"
    result = convert(
        str(trained_run),
        "--int8",
        "--edgetpu",
        "--data",
        str(fer_csv),
        "--out",
        str(out),
        "--max-drop",
        "100",
    )
    assert "Edge TPU ready: True" in result.output  # static batch, int8 only, every op mapped
    assert Classifier(out).dynamic_batch is False
    compiled = out.with_name("m_edgetpu.tflite")
    if compiler == "absent":
        assert result.exit_code == 0 and "apt-get install edgetpu-compiler" in result.output
    elif compiler == "works":
        assert result.exit_code == 0 and compiled.is_file()
    else:
        assert result.exit_code == 1 and "unsupported op" in result.output and not compiled.exists()


def test_evaluate_scores_the_tflite_model(int8_model: Path, fer_csv: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["evaluate", str(int8_model), "--data", str(fer_csv), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    check = json.loads(int8_model.with_suffix(".json").read_text())["check"]
    assert metrics["accuracy"] == pytest.approx(check["converted_accuracy"], abs=1e-4)


def test_classifier_batches_match_one_by_one(int8_model: Path, fer_csv: Path) -> None:
    from edge_emotion.preprocess import scale

    inputs = scale(load_faces(fer_csv, "PublicTest").images[:9])
    classifier = Classifier(int8_model)
    batched = classifier.predict(inputs)
    single = np.concatenate([classifier.predict(face[np.newaxis]) for face in inputs])
    assert batched.shape == (9, 7)
    assert np.array_equal(batched, single)
    assert np.allclose(batched.sum(axis=1), 1.0, atol=0.03)


def test_reference_kernels_agree_with_xnnpack(int8_model: Path, fer_csv: Path) -> None:
    from edge_emotion.preprocess import scale

    def ops(classifier: Classifier) -> set[str]:
        return {op["op_name"] for op in classifier.interpreter._get_ops_details()}

    inputs = scale(load_faces(fer_csv, "PublicTest").images)
    fast_classifier, reference_classifier = Classifier(int8_model), Classifier(int8_model, reference=True)
    assert "DELEGATE" in ops(fast_classifier) and "DELEGATE" not in ops(reference_classifier)  # two kernel sets
    fast, reference = fast_classifier.predict(inputs), reference_classifier.predict(inputs)
    # The softmax output is int8 with a scale of 1/256: rounding ties resolved differently by the two
    # kernel sets move a probability by a few such steps, never more.
    assert np.abs(fast - reference).max() <= 4 / 256
    assert (fast.argmax(axis=1) == reference.argmax(axis=1)).mean() >= 0.95


def test_mirror_averages_each_face_with_its_mirror_image(int8_model: Path, fer_csv: Path) -> None:
    from edge_emotion.preprocess import scale

    inputs = scale(load_faces(fer_csv, "PublicTest").images[:9])
    inputs[:, :, :24] *= 0.5  # make the faces lopsided, so a mirror is a different input
    plain = Classifier(int8_model)
    mirrored = Classifier(int8_model, mirror=True)
    flipped = inputs[:, :, ::-1]
    averaged = mirrored.predict(inputs)
    assert not np.array_equal(plain.predict(inputs), plain.predict(flipped))
    np.testing.assert_allclose(averaged, (plain.predict(inputs) + plain.predict(flipped)) / 2, atol=1e-6)
    np.testing.assert_allclose(averaged, mirrored.predict(flipped), atol=1e-6)
    assert mirrored.predict(inputs[:0]).shape == (0, 7)


def test_evaluate_with_mirror_scores_what_the_device_runs(int8_model: Path, fer_csv: Path, tmp_path: Path) -> None:
    from edge_emotion.metrics import score
    from edge_emotion.preprocess import scale

    args = ["evaluate", str(int8_model), "--data", str(fer_csv), "--out", str(tmp_path), "--mirror"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    faces = load_faces(fer_csv, "PublicTest")
    expected = score(Classifier(int8_model, mirror=True).predict(scale(faces.images)), faces.labels)
    assert json.loads((tmp_path / "metrics.json").read_text())["loss"] == pytest.approx(expected.loss, abs=1e-4)
