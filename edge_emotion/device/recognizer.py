"""The engine behind ``edge-emotion run`` and the Python API: frame -> faces -> emotions.

from edge_emotion.device.recognizer import EmotionRecognizer
faces = EmotionRecognizer().predict(cv2.imread("group.jpg"))
"""

import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from edge_emotion.device.classifier import Classifier
from edge_emotion.device.detector import Box, FaceDetector, Landmarks, make_detector
from edge_emotion.device.tracker import IouTracker
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.preprocess import align_face, scale, to_gray

SHIPPED_MODEL = "emotion_int8.tflite"


def shipped_model() -> Path:
    """The int8 model trained by the project and installed with the package."""
    return Path(str(resources.files("edge_emotion") / "models" / SHIPPED_MODEL))


def as_frame(image: object) -> np.ndarray:
    """The frame ``predict`` works on: a uint8 image as OpenCV gives it, (H, W) grey or (H, W, 3|4) BGR(A).

    A bool mask becomes black and white (0, 255). Other types are refused rather than guessed:
    float images come as 0..1 or as 0..255 and the two would give different faces.
    """
    expected = "a uint8 image (H, W) or (H, W, 3), as cv2.imread gives"
    if not isinstance(image, np.ndarray):
        raise EdgeEmotionError(f"expected {expected}, got {type(image).__name__}")
    if image.dtype == np.bool_:
        image = image.astype(np.uint8) * 255
    if image.dtype != np.uint8:
        raise EdgeEmotionError(
            f"expected {expected}, got {image.dtype}; convert with (image * 255).astype(np.uint8) "
            "for 0..1 values or np.clip(image, 0, 255).astype(np.uint8) for 0..255"
        )
    if image.size == 0 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise EdgeEmotionError(f"expected {expected}, got an array of shape {image.shape}")
    return image


@dataclass(frozen=True)
class Face:
    box: Box  # x, y, width, height in frame pixels
    score: float  # detection score, 0..1
    probabilities: dict[str, float]  # class name -> probability (smoothed when tracking)
    label: str
    id: int | None = None  # stays the same while the face stays in view (tracking only)
    landmarks: Landmarks | None = None  # five (x, y) points in frame pixels (YuNet), else None

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "box": list(self.box),
            "score": round(self.score, 4),
            "landmarks": None if self.landmarks is None else [[round(x, 1), round(y, 1)] for x, y in self.landmarks],
            "label": self.label,
            "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
        }


class EmotionRecognizer:
    """Detect every face in a BGR frame and classify it with the int8 model.

    Faces come from YuNet by default (``detector="haar"`` for OpenCV's cascade, or any object with
    a ``detect`` method); ``min_face`` (frame pixels; None: 24), ``min_score`` (None: the
    detector's own default) and ``detect_width`` (None: 320, or the frame's width if smaller)
    configure a detector named by a string. Each face is mapped onto the model's input as FER2013 frames faces
    (``preprocess.align_face``): by its landmarks when the detector gives them.
    ``mirror=True`` averages each face with its mirror image: about a point more accurate
    for twice the classifier's (small) share of a frame. With ``track=True`` (the live loop)
    faces keep ids across frames and their probabilities are smoothed over time; with
    ``track=False`` each call stands alone (photos).
    ``last_latency`` holds the seconds spent detecting and classifying in the last call.

    ``predict`` is safe to call from several threads: calls take turns, because the interpreter,
    OpenCV's cascade and the tracker each hold state for the call in progress.
    """

    def __init__(
        self,
        model: Path | str | None = None,
        *,
        threads: int = 2,
        edgetpu: bool = False,
        detector: FaceDetector | str = "yunet",
        min_face: int | None = None,
        min_score: float | None = None,
        detect_width: int | None = None,
        largest: bool = False,
        mirror: bool = False,
        track: bool = False,
        smooth: float = 0.6,
    ) -> None:
        self.classifier = Classifier(
            Path(model) if model else shipped_model(), threads=threads, edgetpu=edgetpu, mirror=mirror
        )
        self.detector = (
            make_detector(detector, min_face=min_face, min_score=min_score, detect_width=detect_width)
            if isinstance(detector, str)
            else detector
        )
        self.largest = largest
        self.tracker = IouTracker(smooth=smooth) if track else None
        self.last_latency = {"detect": 0.0, "classify": 0.0}
        self.lock = threading.Lock()

    @property
    def class_names(self) -> list[str]:
        return self.classifier.class_names

    def predict(self, frame: np.ndarray) -> list[Face]:
        """Every face in ``frame`` (see ``as_frame`` for what it may be), most certain first."""
        frame = as_frame(frame)
        with self.lock:
            return self._predict(frame)

    def _predict(self, frame: np.ndarray) -> list[Face]:
        started = time.perf_counter()
        detections = self.detector.detect(frame)
        if self.largest and detections:
            detections = [max(detections, key=lambda d: d.box[2] * d.box[3])]
        detected = time.perf_counter()
        size = self.classifier.input_size
        gray = to_gray(frame)
        crops = [align_face(gray, d.box, d.landmarks, size) for d in detections]
        inputs = scale(np.array(crops, np.uint8).reshape(-1, size, size))
        probabilities = self.classifier.predict(inputs)
        ids: list[int | None] = [None] * len(detections)
        if self.tracker is not None:
            tracks = self.tracker.update([d.box for d in detections], probabilities)
            probabilities = np.array([t.probabilities for t in tracks]).reshape(probabilities.shape)
            ids = [t.id for t in tracks]
        self.last_latency = {"detect": detected - started, "classify": time.perf_counter() - detected}
        names = self.class_names
        return [
            Face(d.box, d.score, dict(zip(names, map(float, p), strict=True)), names[int(p.argmax())], i, d.landmarks)
            for d, p, i in zip(detections, probabilities, ids, strict=True)
        ]
