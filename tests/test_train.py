import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edge_emotion.cli import app
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.training.config import TrainConfig
from edge_emotion.training.fit import train
from edge_emotion.training.plots import curves_figure

runner = CliRunner()


def test_run_folder_holds_every_artifact(trained_run: Path) -> None:
    names = {p.name for p in trained_run.iterdir()}
    assert {
        "config.json",
        "best.keras",
        "last.keras",
        "history.csv",
        "curves.png",
        "summary.json",
        "train.log",
    } <= names
    assert not [n for n in names if ".partial" in n]
    summary = json.loads((trained_run / "summary.json").read_text())
    assert summary["arch"] == "tiny-test" and summary["epochs"] == 12
    assert summary["params"] > 0 and summary["seconds"] > 0
    history = (trained_run / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch,loss,accuracy,val_loss,val_accuracy")
    assert len(history) == 13


def test_the_tiny_model_learns_the_synthetic_classes(trained_run: Path) -> None:
    summary = json.loads((trained_run / "summary.json").read_text())
    assert summary["best_val_accuracy"] > 0.5  # chance is 1/7


def test_resume_continues_from_the_last_epoch(tmp_path: Path, fer_csv: Path, tiny_arch: str) -> None:
    out = tmp_path / "run"
    first = TrainConfig(data=str(fer_csv), arch=tiny_arch, epochs=1, batch_size=32, augment=True)
    train(config=first, out=out)
    summary = train(
        out=out, resume=True, given={"epochs": 2, "arch": tiny_arch}
    )  # --epochs moves the end of a constant schedule
    assert summary["epochs"] == 2
    assert json.loads((out / "config.json").read_text())["epochs"] == 2
    assert len((out / "history.csv").read_text().splitlines()) == 3
    with pytest.raises(EdgeEmotionError, match="already holds a run"):
        train(config=first, out=out)
    with pytest.raises(EdgeEmotionError, match="cannot be fewer"):
        train(out=out, resume=True, given={"epochs": 1})


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"batch_size": 64, "seed": 3}, r"leave out --batch-size 64 \(the run has --batch-size 32\), --seed 3"),
        ({"teachers": ("big",)}, r"--teacher big \(the run has none\)"),
        ({"epochs": 9}, r"cosine schedule was fixed at 2 epochs.*--init-from"),
    ],
)
def test_resume_refuses_flags_that_differ_from_the_run(
    tmp_path: Path, fer_csv: Path, tiny_arch: str, given: dict, message: str
) -> None:
    saved = TrainConfig(data=str(fer_csv), arch=tiny_arch, epochs=2, batch_size=32, schedule="cosine")
    (tmp_path / "config.json").write_text(json.dumps(asdict(saved)))
    (tmp_path / "last.keras").write_bytes(b"")  # refused before the checkpoint is read
    with pytest.raises(EdgeEmotionError, match=message):
        train(out=tmp_path, resume=True, given=given)


def test_resume_without_a_run_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EdgeEmotionError, match="nothing to resume"):
        train(out=tmp_path, resume=True)


def test_resume_with_flags_this_version_lacks_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "last.keras").write_text("")
    (tmp_path / "config.json").write_text(json.dumps({"data": "x", "flag_from_elsewhere": 1}))
    with pytest.raises(EdgeEmotionError, match="cannot resume this run's flags"):
        train(out=tmp_path, resume=True)


def test_train_on_an_image_tree(tmp_path: Path, image_tree: Path, tiny_arch: str) -> None:
    config = TrainConfig(data=str(image_tree), arch=tiny_arch, epochs=1, val_split="test")
    summary = train(config=config, out=tmp_path / "run")
    assert summary["train_faces"] == 42 and summary["val_faces"] == 21


def test_evaluate_writes_metrics_and_confusion(trained_run: Path, fer_csv: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(trained_run),
            "--data",
            str(fer_csv),
            "--split",
            "PrivateTest",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["faces"] == 56
    assert np.array(metrics["confusion"]).sum() == 56
    assert set(metrics) >= {"accuracy", "loss", "macro_f1", "precision", "recall"}
    assert (tmp_path / "confusion.png").stat().st_size > 1000
    assert "macro-F1" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--data", "absent.csv", "--out", "{tmp}/r"], "not found"),
        (["train", "--data", "{csv}", "--arch", "nope", "--out", "{tmp}/r"], "unknown architecture"),
        (["evaluate", "{tmp}", "--data", "{csv}"], "is not a training run"),
        (["train", "--data", "{csv}", "--teacher", "{tmp}", "--out", "{tmp}/r"], "is not a training run"),
        (["evaluate", "{tmp}/nothing.tflite", "--data", "{csv}"], "model not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(args: list[str], message: str, tmp_path: Path, fer_csv: Path) -> None:
    filled = [a.format(tmp=tmp_path, csv=fer_csv) for a in args]
    result = runner.invoke(app, filled)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_a_folder_without_split_folders_cannot_validate_on_itself(
    tmp_path: Path, image_tree: Path, tiny_arch: str
) -> None:
    config = TrainConfig(data=str(image_tree / "train"), arch=tiny_arch, epochs=1)
    with pytest.raises(EdgeEmotionError, match="same faces"):
        train(config=config, out=tmp_path / "run")


def test_training_says_what_it_loaded_and_how_far_it_is(
    tmp_path: Path, fer_csv: Path, tiny_arch: str, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "run"
    train(config=TrainConfig(data=str(fer_csv), arch=tiny_arch, epochs=1, batch_size=16, augment=False), out=out)
    printed = capsys.readouterr().out.splitlines()
    counts = ", ".join(f"{name} 30" for name in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"))
    assert printed[0] == f"Training: 210 faces from {fer_csv}:Training ({counts})"
    assert printed[1].startswith("PublicTest: 56 faces")
    assert (
        printed[2].startswith("model tiny-test: ") and "parameters" in printed[2] and "14 steps per epoch" in printed[2]
    )
    progress = [line for line in printed if line.startswith("epoch 1/1  batch ")]
    assert [line.split()[3] for line in progress] == ["3/14", "6/14", "9/14", "12/14"]  # before the model has seen all
    assert all("left: " in line and " in all" in line for line in progress)
    assert printed[-1].startswith("epoch 1/1 done in ") and "val_accuracy" in printed[-1] and "(epoch 1)" in printed[-1]
    assert (out / "train.log").read_text().splitlines() == printed
    train(out=out, resume=True, given={"epochs": 2})
    log = (out / "train.log").read_text()
    assert log.count("Training: 210 faces") == 2 and "epochs 2 to 2" in log and "epoch 2/2 done in" in log


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"arch": "nope"}, "unknown architecture 'nope'"),
        ({"schedule": "linear"}, "unknown --schedule 'linear'; use constant or cosine"),
        ({"precision": "float64"}, "unknown --precision 'float64'; use float32 or mixed_bfloat16"),
        ({"teachers": ("absent",)}, "no model .absent.: name a shipped model"),
        ({"teachers": ("absent.keras",)}, "model not found: absent.keras"),
        ({"data": "absent.csv"}, "data not found: absent.csv"),
    ],
)
def test_flags_are_checked_before_the_data_is_read(flags: dict, message: str, tmp_path: Path, tiny_arch: str) -> None:
    unreadable = tmp_path / "faces.csv"
    unreadable.write_text("not,a,fer,csv\n")  # read first, it would fail with another error
    config = TrainConfig(**{"data": str(unreadable), "arch": tiny_arch, **flags})
    with pytest.raises(EdgeEmotionError, match=message):
        train(config=config, out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_curves_show_the_learning_rate_whole_epochs_and_the_best_one() -> None:
    history = {
        "loss": [2.0, 1.5, 1.2, 1.3], "accuracy": [0.3, 0.4, 0.5, 0.55], "val_loss": [1.9, 1.4, 1.5, 1.6],
        "val_accuracy": [0.3, 0.5, 0.4, 0.45], "learning_rate": [1e-3, 8e-4, 5e-4, 2e-4],
    }  # fmt: skip
    figure = curves_figure(history, best_epoch=2)
    accuracy, loss, rate = figure.axes
    assert rate.get_title() == "learning rate"
    assert list(rate.lines[0].get_ydata()) == history["learning_rate"]
    for axis in figure.axes:
        assert all(float(tick).is_integer() for tick in axis.get_xticks()), axis.get_title()
    for axis, value in ((accuracy, 0.5), (loss, 1.4)):
        (best,) = [line for line in axis.lines if line.get_label() == "best epoch (2)"]
        assert list(best.get_xdata()) == [2] and list(best.get_ydata()) == [value]
