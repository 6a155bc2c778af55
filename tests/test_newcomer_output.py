"""What the first hour's commands print and draw: readable in 80 columns, one epoch visible, a next step named."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge_emotion.cli import app
from edge_emotion.console import print_conversion
from edge_emotion.convert.edgetpu import edgetpu_fix, op_report
from edge_emotion.metadata import ModelMetadata
from edge_emotion.shipped import installed_models, shipped_model

CHECK = {
    "faces": 56, "split": "PublicTest", "float_accuracy": 0.5, "float_macro_f1": 0.4, "float_weight_bytes": 4096,
    "converted_accuracy": 0.5, "converted_macro_f1": 0.4, "converted_bytes": 1024, "drop_points": 0.0,
    "max_drop_points": 1.0, "top1_agreement": 1.0, "mean_abs_prob_diff": 0.0,
}  # fmt: skip


def test_models_fits_an_80_column_terminal() -> None:
    result = CliRunner().invoke(app, ["models"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= 80 for line in lines), result.output
    assert "…" not in result.output  # no cell or header cut short
    for row in installed_models():
        line = next(line for line in lines if f" {row['name']} " in line)
        assert f"{row['privatetest_accuracy']:.1%}" in line and f"{row['macs']:,}" in line
        assert f"{row['faces_per_second_2_threads']:,.0f}" in line
        assert f"{row['name']}: {Path(str(row['path'])).name}" in lines


def test_curves_of_one_epoch_draw_a_point_per_line() -> None:
    pytest.importorskip("matplotlib")
    from edge_emotion.training.plots import curves_figure

    history = {"loss": [1.2], "val_loss": [1.3], "accuracy": [0.4], "val_accuracy": [0.35], "learning_rate": [1e-3]}
    figure = curves_figure(history, best_epoch=1)
    curves = [line for axis in figure.axes for line in axis.get_lines() if line.get_label() in ("train", "validation")]
    curves += figure.axes[2].get_lines()
    assert len(curves) == 5
    for line in curves:  # one point and no segment: only a marker shows it
        assert len(line.get_xdata()) == 1 and line.get_marker() not in (None, "", "None", " ")


def test_the_convert_report_says_how_to_make_a_model_edgetpu_ready(capsys: pytest.CaptureFixture[str]) -> None:
    report = op_report(shipped_model("fast"))  # int8 with a dynamic batch: what convert --int8 writes
    assert not report["edgetpu_ready"] and report["dynamic_shapes"] and not report["float_tensors"]
    fix = edgetpu_fix(report, "int8")
    assert fix is not None and "--edgetpu" in fix and "batch" in fix and "edgetpu_compiler" in fix
    print_conversion(ModelMetadata(quantization="int8", check=CHECK), report, fix)
    output = capsys.readouterr().out
    assert "Edge TPU ready: False" in output and "convert again with --edgetpu" in output
    assert "--int8 --edgetpu" in (edgetpu_fix({**report, "float_tensors": ["x"]}, "float32") or "")
    assert edgetpu_fix({**report, "edgetpu_ready": True, "dynamic_shapes": []}, "int8") is None
