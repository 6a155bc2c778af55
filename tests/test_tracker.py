import numpy as np
import pytest

from edge_emotion.device.engine.tracker import IouTracker, Steadiness, iou
from edge_emotion.errors import EdgeEmotionError

pytestmark = pytest.mark.device  # no TensorFlow: run in the device install too

BOX = (10, 10, 50, 50)
NONE = np.zeros((0, 7))


def one_hot(index: int, strength: float = 0.88) -> np.ndarray:
    probabilities = np.full(7, (1 - strength) / 6)
    probabilities[index] = strength
    return probabilities


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)


def test_ids_follow_faces_that_move() -> None:
    tracker = IouTracker(Steadiness(smooth_seconds=0.0, min_frames=1))
    first, _ = tracker.update([BOX, (200, 10, 50, 50)], np.stack([one_hot(3), one_hot(6)]), 0.0)
    second, _ = tracker.update([(205, 12, 50, 50), (14, 11, 50, 50)], np.stack([one_hot(6), one_hot(3)]), 0.1)
    assert [t.id for t in first] == [1, 2] and [t.id for t in second] == [2, 1]
    third, _ = tracker.update([(400, 300, 40, 40)], one_hot(0)[np.newaxis], 0.2)
    assert third[0].id == 3


def test_an_id_survives_missed_frames_then_ends_with_leave() -> None:
    tracker = IouTracker(Steadiness(min_frames=1), max_missed=2)
    tracker.update([BOX], one_hot(3)[np.newaxis], 0.0)
    assert tracker.update([], NONE, 0.1) == ([], [])
    assert tracker.update([(12, 10, 50, 50)], one_hot(3)[np.newaxis], 0.2)[0][0].id == 1
    events = [e for step in range(3) for e in tracker.update([], NONE, 0.3 + step / 10)[1]]
    assert [(e.kind, e.track_id) for e in events] == [("face_leave", 1)]
    assert tracker.update([(12, 10, 50, 50)], one_hot(3)[np.newaxis], 1.0)[0][0].id == 2


def test_a_face_counts_after_min_frames_and_a_one_frame_detection_never_does() -> None:
    tracker = IouTracker(Steadiness(min_frames=3), max_missed=1)
    kinds = []
    for step in range(3):
        tracks, events = tracker.update([BOX], one_hot(3)[np.newaxis], step / 10)
        kinds += [e.kind for e in events]
        assert tracks[0].confirmed(3) == (step == 2)
    assert kinds == ["face_enter"]
    # A flash somewhere else for one frame: no enter, and no leave when it vanishes.
    _, flash = tracker.update([BOX, (300, 300, 40, 40)], np.stack([one_hot(3), one_hot(0)]), 0.3)
    later = [e for t in (0.4, 0.5, 0.6) for e in tracker.update([BOX], one_hot(3)[np.newaxis], t)[1]]
    assert flash == [] and later == []


def test_smoothing_is_in_seconds_not_frames() -> None:
    """After one time constant a step is 63 % through, at 10 FPS and at 60 FPS alike."""
    reached = []
    for fps in (10, 60):
        tracker = IouTracker(Steadiness(smooth_seconds=0.5, min_frames=1))
        tracker.update([BOX], one_hot(6, 1.0)[np.newaxis], 0.0)
        for frame in range(1, int(0.5 * fps) + 1):
            tracks, _ = tracker.update([BOX], one_hot(3, 1.0)[np.newaxis], frame / fps)
        reached.append(tracks[0].probabilities[3])
    assert reached == pytest.approx([1 - np.exp(-1)] * 2, abs=1e-6)


def test_hysteresis_holds_a_label_until_another_leads_by_the_margin() -> None:
    tracker = IouTracker(Steadiness(smooth_seconds=0.0, hysteresis=0.2, min_frames=1))
    tracker.update([BOX], one_hot(3)[np.newaxis], 0.0)
    close = np.full(7, 0.05)
    close[[3, 6]] = 0.3, 0.45  # neutral leads happy by 0.15 < 0.2: stays happy
    tracks, events = tracker.update([BOX], close[np.newaxis], 0.1)
    assert tracks[0].label == 3 and events == []
    clear = np.full(7, 0.05)
    clear[[3, 6]] = 0.2, 0.55
    tracks, events = tracker.update([BOX], clear[np.newaxis], 0.2)
    assert tracks[0].label == 6
    assert [(e.kind, e.previous, e.label) for e in events] == [("change", 3, 6)]
    assert events[0].confidence == pytest.approx(0.55)


def changes(steadiness: Steadiness, rng: np.random.Generator, fps: int = 30) -> int:
    """Label changes on 300 frames of one face whose raw winner wavers between two close classes."""
    tracker = IouTracker(steadiness)
    count = 0
    for frame in range(300):
        noisy = np.full(7, 0.04)
        noisy[[3, 6]] = 0.4 + rng.normal(0, 0.08, 2)
        count += sum(e.kind == "change" for e in tracker.update([BOX], noisy[np.newaxis], frame / fps)[1])
    return count


def test_steadiness_stops_label_flicker() -> None:
    raw = changes(Steadiness(smooth_seconds=0.0, hysteresis=0.0, min_frames=1), np.random.default_rng(0))
    steady = changes(Steadiness(), np.random.default_rng(0))
    assert raw > 50 and steady <= raw / 10


@pytest.mark.parametrize(
    "values", [{"smooth_seconds": -1.0}, {"smooth_seconds": float("nan")}, {"hysteresis": 1.0}, {"min_frames": 0}]
)
def test_bad_steadiness_values_are_refused(values: dict) -> None:
    with pytest.raises(EdgeEmotionError):
        Steadiness(**values)
