"""evaluate's defaults: the run's own data, and no report written into the installed package."""

from pathlib import Path

import pytest

from edge_emotion.shipped import shipped_model
from edge_emotion.training.evaluate import default_report_dir, evaluate


def test_a_run_is_scored_on_its_own_data(trained_run: Path, fer_csv: Path, tmp_path: Path) -> None:
    result = evaluate(model=trained_run, split="PublicTest", out=tmp_path / "report")
    assert str(fer_csv) in result.title and (tmp_path / "report" / "metrics.json").is_file()


def test_no_report_goes_into_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_report_dir(shipped_model(), "test") == Path("runs") / "emotion_int8-eval-PrivateTest"
    mine = tmp_path / "models" / "mine.tflite"
    assert default_report_dir(mine, "val") == tmp_path / "models" / "mine-eval-PublicTest"
    assert default_report_dir(tmp_path, "val") == tmp_path / "eval-PublicTest"
