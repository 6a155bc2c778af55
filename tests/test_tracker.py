import itertools

import numpy as np
import pytest

from edge_emotion.device.tracker import IouTracker, iou


def one_hot(index: int) -> np.ndarray:
    probabilities = np.full(7, 0.02)
    probabilities[index] = 0.88
    return probabilities


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)


def test_ids_stay_while_faces_move_and_new_faces_get_new_ids() -> None:
    tracker = IouTracker(smooth=0.0)
    first = tracker.update([(10, 10, 50, 50), (200, 10, 50, 50)], np.stack([one_hot(3), one_hot(6)]))
    assert [t.id for t in first] == [1, 2]
    # Both faces drift a little and are listed in the other order: ids follow the faces.
    second = tracker.update([(205, 12, 50, 50), (14, 11, 50, 50)], np.stack([one_hot(6), one_hot(3)]))
    assert [t.id for t in second] == [2, 1]
    third = tracker.update([(400, 300, 40, 40)], one_hot(0)[np.newaxis])
    assert [t.id for t in third] == [3]


def test_a_face_missed_for_a_frame_keeps_its_id() -> None:
    tracker = IouTracker(max_missed=2)
    tracker.update([(10, 10, 50, 50)], one_hot(3)[np.newaxis])
    assert tracker.update([], np.zeros((0, 7))) == []
    assert tracker.update([(12, 10, 50, 50)], one_hot(3)[np.newaxis])[0].id == 1
    for _ in range(3):
        tracker.update([], np.zeros((0, 7)))
    assert tracker.update([(12, 10, 50, 50)], one_hot(3)[np.newaxis])[0].id == 2


def flips(smooth: float, rng: np.random.Generator) -> int:
    """How often the label changes on a face that is really neutral but sometimes read as sad."""
    tracker = IouTracker(smooth=smooth)
    labels = []
    for _ in range(200):
        noisy = one_hot(4) if rng.random() < 0.3 else one_hot(6)
        labels.append(int(tracker.update([(10, 10, 50, 50)], noisy[np.newaxis])[0].probabilities.argmax()))
    return sum(a != b for a, b in itertools.pairwise(labels))


def test_smoothing_stops_label_flicker() -> None:
    raw = flips(0.0, np.random.default_rng(0))
    smoothed = flips(0.8, np.random.default_rng(0))
    assert raw > 40
    assert smoothed < raw / 4


def test_smooth_must_be_below_one() -> None:
    with pytest.raises(ValueError):
        IouTracker(smooth=1.0)
