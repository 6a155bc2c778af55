import json
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edge_emotion.cli import app
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.training.fit import TrainConfig, train
from edge_emotion.training.run_folder import STATE_ENTRY, RunFolder

runner = CliRunner()


def test_run_folder_holds_every_artifact(trained_run: Path) -> None:
    names = {p.name for p in trained_run.iterdir()}
    assert {"config.json", "best.keras", "last.keras", "history.csv", "curves.png", "summary.json"} <= names
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


def test_a_run_from_before_the_state_moved_into_the_checkpoint_resumes(
    tmp_path: Path, fer_csv: Path, tiny_arch: str
) -> None:
    out = tmp_path / "run"
    train(config=TrainConfig(data=str(fer_csv), arch=tiny_arch, epochs=1, augment=False), out=out)
    with zipfile.ZipFile(out / "last.keras") as new, zipfile.ZipFile(tmp_path / "old.keras", "w") as old:
        for name in new.namelist():
            if name != STATE_ENTRY:
                old.writestr(name, new.read(name))
        (out / "state.json").write_text(new.read(STATE_ENTRY).decode())
    (tmp_path / "old.keras").replace(out / "last.keras")
    assert train(out=out, resume=True, given={"epochs": 2})["epochs"] == 2
    assert RunFolder(out).read_state()["epoch"] == 2
    assert not (out / "state.json").exists()  # it would now be behind the checkpoint


def test_resume_without_a_run_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EdgeEmotionError, match="nothing to resume"):
        train(out=tmp_path, resume=True)


def test_resume_with_flags_this_version_lacks_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{}")
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
