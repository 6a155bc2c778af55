"""The model the package ships: loaded by default, int8 end to end, small, and right on a real smile."""

from pathlib import Path

import cv2

from edge_emotion.convert.edgetpu import op_report
from edge_emotion.device.recognizer import EmotionRecognizer, shipped_model
from edge_emotion.metadata import read_metadata


def test_shipped_model_is_int8_small_and_carries_its_metadata() -> None:
    model = shipped_model()
    assert model.is_file() and model.stat().st_size < 1_000_000
    metadata = read_metadata(model)
    assert metadata is not None and metadata.quantization == "int8"
    assert metadata.class_names == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    assert abs(metadata.check["drop_points"]) <= 1.0
    report = op_report(model)
    assert report["float_tensors"] == [] and all(op["edgetpu"] for op in report["ops"])


def test_the_default_recognizer_sees_a_smile(astronaut: Path) -> None:
    (face,) = EmotionRecognizer().predict(cv2.imread(str(astronaut)))
    assert face.label == "happy" and face.probabilities["happy"] > 0.5
