"""Members: a run's best weights kept in git, loaded back, and warm-starting the next stretch."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edge_emotion.cli import app
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.training.config import TrainConfig
from edge_emotion.training.data import load_faces
from edge_emotion.training.fit import train
from edge_emotion.training.members import choose_ensemble
from edge_emotion.training.resolve import load_model

runner = CliRunner()


@pytest.fixture(scope="module")
def member(trained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("members") / "tiny"
    result = runner.invoke(app, ["member", str(trained_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_member_predicts_like_its_run(member: Path, trained_run: Path, fer_csv: Path) -> None:
    record = json.loads((member / "member.json").read_text())
    assert record["arch"] == "tiny-test" and record["weights_dtype"] in ("float16", "float32")
    with np.load(member / "weights.npz") as stored:
        assert {stored[name].dtype.name for name in stored.files} == {record["weights_dtype"]}
    faces = load_faces(fer_csv, "PublicTest")
    np.testing.assert_allclose(load_model(member).predict(faces), load_model(trained_run).predict(faces), atol=5e-3)


def test_member_records_the_command_that_made_it(member: Path, trained_run: Path) -> None:
    command = (member / "command.txt").read_text()
    assert command.startswith("edge-emotion train --data ")
    assert "--arch tiny-test" in command and "--epochs 12" in command and "--no-augment" in command
    assert command.strip().endswith(f"--out {trained_run}")
    assert (member / "history.csv").is_file() and (member / "config.json").is_file()


def test_init_from_starts_at_the_members_weights(member: Path, fer_csv: Path, tmp_path: Path) -> None:
    # A learning rate of 0 keeps the starting weights: the new run must predict exactly as the member.
    config = TrainConfig(
        data=str(fer_csv), arch="tiny-test", epochs=1, learning_rate=0.0, augment=False, init_from=str(member)
    )
    train(config=config, out=tmp_path / "stretch")
    faces = load_faces(fer_csv, "PublicTest")
    np.testing.assert_allclose(
        load_model(tmp_path / "stretch").predict(faces), load_model(member).predict(faces), atol=1e-5
    )
    assert json.loads((tmp_path / "stretch" / "config.json").read_text())["init_from"] == str(member)


def test_a_second_stretch_extends_the_members_record(member: Path, fer_csv: Path, tmp_path: Path) -> None:
    config = TrainConfig(data=str(fer_csv), arch="tiny-test", epochs=1, augment=False, init_from=str(member))
    train(config=config, out=tmp_path / "stretch2")
    copy = tmp_path / "copy"
    copy.mkdir()
    for item in member.iterdir():
        (copy / item.name).write_bytes(item.read_bytes())
    config_path = tmp_path / "stretch2" / "config.json"
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), "init_from": str(copy)}))
    from edge_emotion.training.members import save_member

    record = save_member(run=tmp_path / "stretch2", out=copy)
    assert len(record["stretches"]) == 2
    assert len((copy / "command.txt").read_text().splitlines()) == 2


@pytest.mark.parametrize("problem", ["missing", "other-arch", "corrupt"])
def test_bad_init_from_is_one_clear_error(problem: str, member: Path, fer_csv: Path, tmp_path: Path) -> None:
    arch, source = "tiny-test", member
    if problem == "missing":
        source = tmp_path / "nowhere"
    elif problem == "other-arch":
        arch = "seed"
    else:
        source = tmp_path / "corrupt"
        source.mkdir()
        for item in member.iterdir():
            (source / item.name).write_bytes(item.read_bytes())
        (source / "weights.npz").write_bytes(b"not a zip")
    config = TrainConfig(data=str(fer_csv), arch=arch, epochs=1, init_from=str(source))
    with pytest.raises(EdgeEmotionError, match=str(source)):
        train(config=config, out=tmp_path / "run")
    assert not (tmp_path / "run" / "config.json").exists()


def test_choose_ensemble_adds_the_member_that_helps_most_within_the_budget() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1])
    sure = np.array([[0.9, 0.05, 0.05]] * 3 + [[0.1, 0.8, 0.1]] + [[0.1, 0.3, 0.6]] * 2)  # 4 of 6 right
    other = np.array([[0.35, 0.25, 0.4]] * 4 + [[0.05, 0.9, 0.05]] * 2)  # 2 of 6, but right where `sure` is wrong
    weak = np.array([[0.2, 0.1, 0.7]] * 6)  # never right
    probabilities = {"sure": sure, "copy": sure.copy(), "other": other, "weak": weak}
    assert choose_ensemble(probabilities, labels) == ["sure", "other"]  # the copy adds nothing, so is left out
    assert choose_ensemble(probabilities, labels, lambda names: "other" not in names) == ["sure"]
    assert choose_ensemble(probabilities, labels, lambda names: False) == []
