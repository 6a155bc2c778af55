import json
from pathlib import Path

import numpy as np
import pytest

from edge_emotion.errors import EdgeEmotionError
from edge_emotion.training import distill
from edge_emotion.training.config import TrainConfig
from edge_emotion.training.data import FaceSet, load_faces, one_hot
from edge_emotion.training.fit import train


def test_targets_blend_the_labels_and_the_teacher() -> None:
    faces = FaceSet(np.zeros((3, 48, 48), np.uint8), one_hot(np.array([0, 3, 6])), "test")
    teacher = np.full((3, 7), 1 / 7, np.float32)
    blended = distill.distilled(faces, teacher, 0.25).targets
    np.testing.assert_allclose(blended.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(blended[1, 3], 0.75 + 0.25 / 7, rtol=1e-6)
    np.testing.assert_allclose(blended[1, 0], 0.25 / 7, rtol=1e-6)
    with pytest.raises(EdgeEmotionError, match=r"within 0\.\.1"):
        distill.distilled(faces, teacher, 1.5)
    with pytest.raises(EdgeEmotionError, match="probabilities for targets"):
        distill.distilled(faces, teacher[:2], 0.5)


def test_the_teacher_sees_a_face_and_its_mirror_alike(trained_run: Path, fer_csv: Path) -> None:
    faces = load_faces(fer_csv, "PublicTest")
    mirrored = FaceSet(faces.images[:, :, ::-1], faces.targets, faces.source)
    probabilities = distill.teacher_probabilities(trained_run, faces)
    np.testing.assert_allclose(probabilities, distill.teacher_probabilities(trained_run, mirrored), atol=1e-5)
    # The synthetic classes are bars at class heights, so mirroring keeps them learnable.
    assert (probabilities.argmax(axis=1) == faces.labels).mean() > 0.5


def test_a_tflite_teacher_agrees_with_its_run(trained_run: Path, int8_model: Path, fer_csv: Path) -> None:
    faces = load_faces(fer_csv, "PublicTest")
    from_run = distill.teacher_probabilities(trained_run, faces)
    from_int8 = distill.teacher_probabilities(int8_model, faces)
    assert from_int8.shape == from_run.shape
    np.testing.assert_allclose(from_int8.sum(axis=1), 1.0, atol=0.02)
    assert (from_int8.argmax(axis=1) == from_run.argmax(axis=1)).mean() > 0.9
    with pytest.raises(EdgeEmotionError, match=r"not a model; give a run folder"):
        distill.teacher_probabilities(fer_csv, faces)


def test_a_student_trains_on_a_cached_teacher_and_resumes_without_it(
    tmp_path: Path, fer_csv: Path, tiny_arch: str, trained_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "student"
    config = TrainConfig(data=str(fer_csv), arch=tiny_arch, epochs=1, batch_size=32, teachers=(str(trained_run),))
    train(config=config, out=out)
    cached = np.load(out / "teacher.npy")
    assert cached.shape == (210, 7)
    np.testing.assert_allclose(cached.sum(axis=1), 1.0, rtol=1e-5)
    assert json.loads((out / "config.json").read_text())["teachers"] == [str(trained_run)]

    def no_teacher(*_: object) -> np.ndarray:
        raise AssertionError("the teacher ran again although its probabilities were cached")

    monkeypatch.setattr(distill, "teacher_probabilities", no_teacher)
    assert train(out=out, resume=True, given={"epochs": 2})["epochs"] == 2


def test_several_teachers_average_into_one_cached_ensemble(
    tmp_path: Path, fer_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    faces = load_faces(fer_csv, "PublicTest")
    confident = {"a": 0, "b": 3}  # each stand-in teacher is sure of one class

    def stand_in(teacher: Path, faces: FaceSet) -> np.ndarray:
        return one_hot(np.full(len(faces), confident[teacher.name]))

    monkeypatch.setattr(distill, "teacher_probabilities", stand_in)
    cache = tmp_path / "teacher.npy"
    ensemble = distill.cached_teacher_probabilities([Path("a"), Path("b")], faces, cache)
    np.testing.assert_allclose(ensemble[:, [0, 3]], 0.5)
    np.testing.assert_allclose(np.load(cache), ensemble)
    assert not list(tmp_path.glob(".*partial*"))


def test_a_damaged_teacher_cache_is_computed_again(
    tmp_path: Path, fer_csv: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    faces = load_faces(fer_csv, "PublicTest")
    monkeypatch.setattr(distill, "teacher_probabilities", lambda teacher, faces: one_hot(np.full(len(faces), 2)))
    cache = tmp_path / "teacher.npy"
    for damage in (b"\x93NUMPY garbage", np.zeros(3).tobytes(), b""):
        cache.write_bytes(damage)
        probabilities = distill.cached_teacher_probabilities([Path("t")], faces, cache)
        assert probabilities.argmax(axis=1).tolist() == [2] * len(faces)
        np.testing.assert_array_equal(np.load(cache), probabilities)
    assert sum("computing the teachers' predictions again" in r.getMessage() for r in caplog.records) == 3
