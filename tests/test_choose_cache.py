"""choose_ensemble.py --cache: a candidate's kept probabilities are reused only for the same weights and faces."""

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import choose_ensemble

from edge_emotion.training.corruptions import corrupt
from edge_emotion.training.data import load_faces


def test_cached_predictions_are_reused_for_the_same_weights_and_faces_only(
    trained_run: Path, fer_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    faces = load_faces(fer_csv, "PublicTest")
    sets = {"clean": faces.images, "noise/medium": corrupt(faces.images, "noise", "medium", seed=0)}
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    cache = tmp_path / "cache"
    views, whole, cost, size = choose_ensemble.candidate_predictions(run, faces, sets, faces, cache)
    assert [path.name.startswith("run-") for path in cache.iterdir()] == [True]

    def no_model(folder: Path) -> None:
        raise AssertionError(f"{folder} predicted again")

    monkeypatch.setattr(choose_ensemble, "load_model", no_model)
    again, whole_again, cost_again, size_again = choose_ensemble.candidate_predictions(run, faces, sets, faces, cache)
    assert (cost_again, size_again) == (cost, size) and whole is not None and whole_again is not None
    np.testing.assert_array_equal(whole_again, whole)
    for name in sets:
        np.testing.assert_array_equal(again[name], views[name])

    other = load_faces(fer_csv, "PublicTest")
    other.images[0] = 255 - other.images[0]  # another data file with as many faces: the kept predictions do not apply
    with pytest.raises(AssertionError, match="predicted again"):
        choose_ensemble.candidate_predictions(run, other, {"clean": other.images}, other, cache)

    weights = next(path for path in sorted(run.rglob("*")) if path.suffix in {".keras", ".npz", ".h5"})
    weights.write_bytes(weights.read_bytes() + b"\0")  # other weights: the kept predictions no longer apply
    with pytest.raises(AssertionError, match="predicted again"):
        choose_ensemble.candidate_predictions(run, faces, sets, faces, cache)
