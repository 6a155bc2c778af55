"""choose_ensemble.py --incumbent: the chosen ensemble's lead over the shipped one, with a paired interval."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import choose_ensemble

from edge_emotion.training.data import FaceSet, one_hot

FACES, CORRUPTIONS = 400, 3


def faces_with_votes(rng: np.random.Generator) -> FaceSet:
    """Faces whose FER+ majority is their FER2013 label, but one in ten that has none among the seven (left out)."""
    labels = rng.integers(0, 7, FACES)
    votes = 10 * one_hot(labels)
    votes[::10] = 0
    return FaceSet(np.zeros((FACES, 48, 48), np.uint8), one_hot(labels), "test", votes)


def stacked(faces: FaceSet, right: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A model's robust stack that answers right with probability ``right`` on every face and corruption."""
    views = {"clean": one_hot(faces.labels)}
    for k in range(CORRUPTIONS):
        guesses = np.where(rng.random(FACES) < right, faces.labels, (faces.labels + 1) % 7)
        views[f"c{k}"] = one_hot(guesses)
    return choose_ensemble.robust_stack(views, faces)


def test_per_face_counts_add_up_to_the_stacks_accuracy() -> None:
    rng = np.random.default_rng(0)
    faces = faces_with_votes(rng)
    probabilities, labels = stacked(faces, 0.6, rng)
    right, judged = choose_ensemble.per_face(probabilities, labels, faces)
    assert right.sum() / judged.sum() == (probabilities.argmax(1) == labels).mean()
    assert set(judged[faces.human >= 0]) == {2 * CORRUPTIONS} and set(judged[faces.human < 0]) == {CORRUPTIONS}


def test_the_lead_is_zero_for_the_same_ensemble_and_clear_for_a_better_one() -> None:
    rng = np.random.default_rng(1)
    faces = faces_with_votes(rng)
    weak, labels = stacked(faces, 0.5, rng)
    same = choose_ensemble.lead(weak, weak, labels, faces)
    assert same == {"lead_points": 0.0, "interval95_points": [0.0, 0.0]}
    strong, _ = stacked(faces, 0.8, rng)
    better = choose_ensemble.lead(strong, weak, labels, faces)
    low, high = better["interval95_points"]
    assert 20 < low < better["lead_points"] < high < 40  # about 30 points ahead, the interval around it


def test_a_lead_within_the_samples_noise_holds_zero() -> None:
    rng = np.random.default_rng(2)
    faces = faces_with_votes(rng)
    one, labels = stacked(faces, 0.6, rng)
    other, _ = stacked(faces, 0.6, rng)  # as good, with other mistakes
    low, high = choose_ensemble.lead(one, other, labels, faces)["interval95_points"]
    assert low < 0 < high
