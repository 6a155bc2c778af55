import numpy as np
import pytest

from edge_emotion.metrics import agreement, score, score_label_sets
from edge_emotion.preprocess import face_to_input, scale


def test_scale_maps_pixels_to_unit_range() -> None:
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    scaled = scale(images)
    assert scaled.shape == (1, 2, 2, 1)
    assert scaled.dtype == np.float32
    assert scaled[0, 0, 1, 0] == pytest.approx(1.0)
    assert scaled[0, 1, 0, 0] == pytest.approx(0.2)


@pytest.mark.parametrize("shape", [(120, 90), (120, 90, 3), (30, 30, 4)])
def test_face_to_input_any_crop(shape: tuple[int, ...]) -> None:
    crop = np.full(shape, 200, dtype=np.uint8)
    face = face_to_input(crop)
    assert face.shape == (48, 48, 1)
    assert face.max() <= 1.0
    assert face.mean() == pytest.approx(200 / 255, abs=0.01)


def test_score_on_a_hand_checked_example() -> None:
    labels = np.array([0, 0, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 0])
    probabilities = np.full((5, 3), 0.1)
    probabilities[np.arange(5), predicted] = 0.8
    scores = score(probabilities, labels, names=["a", "b", "c"])
    assert scores.accuracy == pytest.approx(3 / 5)
    assert scores.confusion.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert scores.precision["a"] == pytest.approx(0.5)
    assert scores.recall["b"] == pytest.approx(1.0)
    # F1: a = 0.5, b = 0.8, c = 0 -> macro 0.4333
    assert scores.macro_f1 == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert scores.loss == pytest.approx(-(3 * np.log(0.8) + 2 * np.log(0.1)) / 5)


def test_agreement() -> None:
    a = np.array([[0.9, 0.1], [0.2, 0.8]])
    b = np.array([[0.6, 0.4], [0.6, 0.4]])
    result = agreement(a, b)
    assert result["top1_agreement"] == 0.5
    assert result["mean_abs_prob_diff"] == pytest.approx(0.35)


def test_scores_on_both_label_sets_leave_out_faces_without_a_human_majority() -> None:
    probabilities = np.eye(7)[[0, 1, 2, 3]]
    labels = np.array([0, 1, 0, 0])
    human = np.array([0, -1, 2, 1])  # the second face's majority is none of the seven
    both = score_label_sets(probabilities, labels, human)
    assert both.fer2013.accuracy == pytest.approx(2 / 4)
    assert both.ferplus.accuracy == pytest.approx(2 / 3)
    assert both.left_out == 1
    assert both.as_dict()["ferplus"]["faces"] == 3
    assert both.summary() == {
        "fer2013_accuracy": 0.5, "fer2013_macro_f1": round(both.fer2013.macro_f1, 4),
        "ferplus_accuracy": 0.6667, "ferplus_macro_f1": round(both.ferplus.macro_f1, 4),
    }  # fmt: skip
    assert score_label_sets(probabilities, labels).ferplus is None
