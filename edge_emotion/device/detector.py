"""Face detectors behind one small interface, so a better one can be added without touching the loop."""

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from edge_emotion.errors import EdgeEmotionError
from edge_emotion.preprocess import to_gray

Box = tuple[int, int, int, int]  # x, y, width, height in frame pixels


@dataclass(frozen=True)
class Detection:
    box: Box
    score: float  # 0..1, higher is more certain


class FaceDetector(Protocol):
    def detect(self, frame: np.ndarray) -> list[Detection]:
        """Faces in a BGR (or grey) frame, most certain first."""
        ...


class HaarDetector:
    """OpenCV's frontal-face Haar cascade, shipped inside opencv-python-headless (cv2.data).

    Its score is the logistic of the cascade's last-stage weight, shifted so that a weight
    of 2 (a weak, often false, hit) scores 0.5; ``min_score`` drops weaker hits. Frames wider
    than ``detect_width`` are searched at that width (a quarter of the pixels of 640x480),
    which is what keeps detection affordable on a Raspberry Pi; boxes come back in frame pixels.
    """

    CASCADE = "haarcascade_frontalface_default.xml"

    def __init__(
        self,
        *,
        min_size: int = 24,
        min_score: float = 0.5,
        scale_factor: float = 1.1,
        detect_width: int = 320,
    ) -> None:
        path = cv2.data.haarcascades + self.CASCADE
        self.cascade = cv2.CascadeClassifier(path)
        if self.cascade.empty():
            raise EdgeEmotionError(
                f"cannot load OpenCV's face cascade {path}; install opencv-python-headless<5 (5.x ships none)"
            )
        self.min_size, self.min_score, self.scale_factor = min_size, min_score, scale_factor
        self.detect_width = detect_width

    def detect(self, frame: np.ndarray) -> list[Detection]:
        gray = to_gray(frame)
        ratio = min(1.0, self.detect_width / gray.shape[1])
        if ratio < 1.0:
            gray = cv2.resize(gray, None, fx=ratio, fy=ratio, interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        boxes, _, weights = self.cascade.detectMultiScale3(
            gray, scaleFactor=self.scale_factor, minNeighbors=5,
            minSize=(self.min_size, self.min_size), outputRejectLevels=True,
        )  # fmt: skip
        found = [
            Detection(tuple(round(v / ratio) for v in box), 1.0 / (1.0 + math.exp(2.0 - float(weight))))
            for box, weight in zip(boxes, np.ravel(weights), strict=True)
        ]
        return sorted((d for d in found if d.score >= self.min_score), key=lambda d: -d.score)


DETECTORS: dict[str, Callable[[], FaceDetector]] = {"haar": HaarDetector}


def make_detector(name: str) -> FaceDetector:
    if name not in DETECTORS:
        raise EdgeEmotionError(f"unknown detector {name!r}; choose one of: {', '.join(DETECTORS)}")
    return DETECTORS[name]()
