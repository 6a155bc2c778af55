"""The recognizer on a tracked stream: faces after min_frames, typed events, and neutral calibration."""

from pathlib import Path

import numpy as np
import pytest
from fakes import ScriptedDetector

from edge_emotion.device.engine.recognizer import EmotionRecognizer
from edge_emotion.device.engine.tracker import Steadiness
from edge_emotion.errors import EdgeEmotionError

pytestmark = pytest.mark.device  # no TensorFlow: run in the device install too

FRAME = np.full((120, 160, 3), 90, np.uint8)


def stream(model: Path, **options: object) -> EmotionRecognizer:
    return EmotionRecognizer(model, detector=ScriptedDetector(drift=0), track=True, **options)


def test_a_new_face_is_calibrated_to_read_neutral(tiny_model: Path) -> None:
    recognizer = stream(tiny_model, calibrate_seconds=0.5, steadiness=Steadiness(min_frames=1))
    raw = EmotionRecognizer(tiny_model, detector=ScriptedDetector(drift=0)).predict(FRAME)[0]
    assert raw.label != "neutral"  # the tiny model reads this grey frame as something else
    timeline = []
    for step in range(10):
        faces = recognizer.predict(FRAME, timestamp=step / 10)
        timeline.append((faces[0].calibrating, faces[0].label, [e["event"] for e in recognizer.last_events]))
    assert [calibrating for calibrating, _, _ in timeline] == [True] * 5 + [False] * 5
    assert "calibrated" in timeline[5][2]
    assert all(label == "neutral" for _, label, _ in timeline[5:])


def test_calibrate_on_request_and_its_refusals(tiny_model: Path) -> None:
    recognizer = stream(tiny_model, steadiness=Steadiness(min_frames=2))
    recognizer.predict(FRAME, timestamp=0.0)
    with pytest.raises(EdgeEmotionError, match="no face with id 1"):
        recognizer.calibrate(1)  # seen once: not a face yet
    recognizer.predict(FRAME, timestamp=0.1)
    assert recognizer.calibrate(1, seconds=0.3) is True
    assert recognizer.calibrate(1, seconds=0.3) is False  # already calibrating: the window stays
    with pytest.raises(EdgeEmotionError, match="no face with id 7"):
        recognizer.calibrate(7)
    events = [e for t in (0.2, 0.3, 0.4, 0.5) for e in (recognizer.predict(FRAME, t), recognizer.last_events)[1]]
    # The label moves to neutral as calibration ends: a change event says so, then calibrated.
    assert [e["event"] for e in events] == ["change", "calibrated"] and events[0]["to"] == "neutral"
    assert events[1]["id"] == 1 and events[1]["label"] == "neutral"
    with pytest.raises(EdgeEmotionError, match="tracked stream"):
        EmotionRecognizer(tiny_model, detector=ScriptedDetector()).calibrate(1)


def test_enter_and_leave_events_name_the_face(tiny_model: Path) -> None:
    recognizer = EmotionRecognizer(tiny_model, detector=ScriptedDetector(drift=0, empty=set(range(3, 20))), track=True)
    kinds = []
    for step in range(12):
        recognizer.predict(FRAME, timestamp=step / 10)
        kinds += [(e["event"], e["id"], e["time"]) for e in recognizer.last_events]
    assert kinds == [("face_enter", 1, 0.2), ("face_leave", 1, 0.8)]  # seen 3 frames; gone after 5 missed


def test_timestamps_that_do_not_move_count_as_frames(tiny_model: Path) -> None:
    """A video container without frame times: the smoothing still moves on."""
    recognizer = stream(tiny_model, steadiness=Steadiness(min_frames=1))
    faces = [recognizer.predict(FRAME, timestamp=0.0) for _ in range(3)]
    assert recognizer.now == pytest.approx(2 / 30) and len(faces[-1]) == 1
