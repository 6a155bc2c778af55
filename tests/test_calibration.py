"""Neutral calibration: a resting face the model misreads reads neutral after it; real expressions still show."""

import numpy as np
import pytest

from edge_emotion.device.engine.calibration import Calibration, apply_bias, neutral_bias
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.labels import CLASS_NAMES

pytestmark = pytest.mark.device  # no TensorFlow: run in the device install too

NEUTRAL, SAD, HAPPY = (CLASS_NAMES.index(n) for n in ("neutral", "sad", "happy"))


def resting_face_read_as_sad(rng: np.random.Generator, count: int = 20) -> np.ndarray:
    base = np.array([0.08, 0.01, 0.10, 0.03, 0.50, 0.03, 0.25])  # sad leads, neutral second
    noisy = np.clip(base + rng.normal(0, 0.02, (count, 7)), 1e-3, None)
    return noisy / noisy.sum(axis=1, keepdims=True)


def test_the_resting_face_reads_neutral_and_a_smile_still_reads_happy() -> None:
    frames = resting_face_read_as_sad(np.random.default_rng(0))
    assert (frames.argmax(axis=1) == SAD).all()
    bias = neutral_bias(frames[:10], NEUTRAL)
    after = apply_bias(frames[10:], bias)  # later frames of the same resting face
    assert (after.argmax(axis=1) == NEUTRAL).all() and after[:, NEUTRAL].mean() > 0.4
    smile = np.array([[0.02, 0.01, 0.03, 0.80, 0.05, 0.04, 0.05]])
    assert apply_bias(smile, bias).argmax() == HAPPY
    frown = np.array([[0.05, 0.01, 0.05, 0.01, 0.82, 0.02, 0.04]])  # sadder than the resting face
    assert apply_bias(frown, bias).argmax() == SAD


def test_rows_stay_distributions_and_no_bias_changes_nothing() -> None:
    frames = resting_face_read_as_sad(np.random.default_rng(1))
    assert apply_bias(frames, None) is frames
    shifted = apply_bias(frames, neutral_bias(frames, NEUTRAL))
    np.testing.assert_allclose(shifted.sum(axis=1), 1.0, atol=1e-5)


def test_the_shift_is_bounded() -> None:
    extreme = np.full((5, 7), 1e-9)
    extreme[:, SAD] = 1.0
    bias = neutral_bias(extreme, NEUTRAL, max_shift=3.0)
    assert bias.min() == -3.0 and bias.max() == 0.0 and bias[NEUTRAL] == 0.0  # bounded, never a boost


def test_no_frames_is_a_clear_error() -> None:
    with pytest.raises(EdgeEmotionError, match="no frames"):
        neutral_bias(np.zeros((0, 7)), NEUTRAL)


def test_a_window_collects_frames_for_its_seconds() -> None:
    window = Calibration(start=10.0, seconds=1.0)
    frame = np.full(7, 1 / 7)
    assert [window.add(frame, t) for t in (10.0, 10.5, 10.9)] == [False, False, False]
    assert window.add(frame, 11.0) and len(window.samples) == 3
    late = Calibration(start=0.0, seconds=1.0)  # the face was missed all through the window
    assert late.add(frame, 5.0) and len(late.samples) == 1
