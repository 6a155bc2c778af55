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


# OpenCV's grey of a BGR pixel: 0.114 B + 0.587 G + 0.299 R, so pure blue and pure red differ.
BLUE_GREY, RED_GREY = round(0.114 * 255), round(0.299 * 255)


@pytest.mark.parametrize("size", [(120, 90), (30, 20)])  # shrunk and enlarged
@pytest.mark.parametrize("channels", [0, 3, 4])  # grey, BGR, BGRA
def test_face_to_input_any_crop(size: tuple[int, int], channels: int) -> None:
    """A crop of any size and colour becomes one grey 48x48 face in 0..1, upright and read as BGR:
    blue above red stays darker above (as RGB it would turn brighter), top and bottom unswapped."""
    rows, columns = size
    if channels:
        crop = np.zeros((rows, columns, channels), np.uint8)
        crop[: rows // 2, :, 0] = 255  # blue on top
        crop[rows // 2 :, :, 2] = 255  # red below
        crop[..., 3:] = 255  # opaque
        top, bottom = BLUE_GREY, RED_GREY
    else:
        crop = np.full((rows, columns), 50, np.uint8)
        crop[: rows // 2] = 200
        top, bottom = 200, 50
    face = face_to_input(crop)
    assert face.shape == (48, 48, 1) and face.dtype == np.float32
    np.testing.assert_allclose(face[:20], top / 255, atol=1.5 / 255)
    np.testing.assert_allclose(face[28:], bottom / 255, atol=1.5 / 255)


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
