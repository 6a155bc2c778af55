"""Face detectors behind one small interface, so a better one can be added without touching the loop.

Both search a downscaled copy of the frame (``detect_width``), which is what keeps detection
affordable on a Raspberry Pi, optionally turned by +-``tilt`` degrees as well (tilted heads), and
report boxes and landmarks in frame pixels. Camera and video search fast (320 px, upright);
photos, where a second does not matter, search wide, turned and at two scales (``photos=True``).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import cv2
import cv2.data
import numpy as np

from edge_emotion.device.engine.settings import (
    DETECT_WIDTH,
    DETECTOR_SCORES,
    MIN_FACE,
    MIN_SIDE,
    PHOTO_SCALES,
    PHOTO_TILT,
    PHOTO_WIDTH,
    DetectorSettings,
)
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.preprocess import pixel_centres, to_gray

Box = tuple[int, int, int, int]  # x, y, width, height in frame pixels
# Five (x, y) points in frame pixels, YuNet's order: right eye, left eye, nose tip, right and left
# mouth corners (the person's right and left: their right eye is on the image's left).
Landmarks = tuple[tuple[float, float], ...]
# What a search finds in the downscaled frame: box (x, y, w, h), landmarks (5, 2) or None, score.
Found = tuple[tuple[float, float, float, float], np.ndarray | None, float]

NMS_IOU = 0.3  # one face found in several turns is kept once: its most certain box
YUNET_MODEL = "face_detection_yunet_2023mar.onnx"
MAX_NETS = 4  # YuNet nets kept, one per image size searched


@dataclass(frozen=True)
class Detection:
    box: Box  # clipped to the frame
    score: float  # 0..1, higher is more certain
    landmarks: Landmarks | None = None  # None from a detector that finds no landmarks (Haar)


class FaceDetector(Protocol):
    def detect(self, frame: np.ndarray) -> list[Detection]:
        """Faces in a BGR (or grey) frame, most certain first."""
        ...


def shipped_yunet() -> Path:
    """YuNet's ONNX file, installed inside the package with its MIT licence (models/YUNET_LICENSE)."""
    return Path(str(resources.files("edge_emotion") / "models" / YUNET_MODEL))


class ScaledDetector:
    """What both detectors share: search at ``detect_width``, upright and turned by +-``tilt``
    degrees, map back to frame pixels, keep faces at least ``min_face`` frame pixels wide and
    scoring ``min_score``, most certain first (``DetectorSettings``; ``settings`` holds them with
    their defaults filled in, but ``detect_width``, whose default depends on the frame).

    ``detect_width=None`` searches at min(DETECT_WIDTH, frame width), or with ``photos`` at
    min(PHOTO_WIDTH, frame width); a width asked for explicitly must fit the frame (upscaling a
    camera frame costs more time than it finds faces). A very wide frame, or one searched narrow, is
    searched larger, so that its height keeps MIN_SIDE px; a frame with a side under MIN_SIDE px is
    refused. ``tilt=None`` is 0 (upright only), or with
    ``photos`` PHOTO_TILT: each turn is one more search. ``photos`` also searches each of
    PHOTO_SCALES times the search width and takes PHOTO_SCORE as ``min_score``'s default.
    """

    DEFAULT_SCORE: float  # min_score when none is given; each detector's scores mean something else
    PHOTO_SCORE: float  # the same for photos, searched several times (each search can add a false face)

    def __init__(self, settings: DetectorSettings) -> None:
        photos = settings.photos
        default_score = self.PHOTO_SCORE if photos else self.DEFAULT_SCORE
        self.min_face: int = MIN_FACE if settings.min_face is None else settings.min_face
        self.min_score: float = default_score if settings.min_score is None else settings.min_score
        self.tilt: float = (PHOTO_TILT if photos else 0.0) if settings.tilt is None else float(settings.tilt)
        self.settings = replace(settings, min_face=self.min_face, min_score=self.min_score, tilt=self.tilt)
        self.detect_width = settings.detect_width
        self.default_width = PHOTO_WIDTH if photos else DETECT_WIDTH
        self.scales = PHOTO_SCALES if photos else (1.0,)

    def ratio(self, frame_width: int, frame_height: int | None = None) -> float:
        """Search width / frame width (at most 1); given the frame's height too, raised where needed
        so that the searched frame's shorter side is MIN_SIDE px, and an error for a frame too small for that."""
        if frame_height is not None and min(frame_width, frame_height) < MIN_SIDE:
            raise EdgeEmotionError(
                f"a {frame_width}x{frame_height} frame is too small to search for faces: both sides need "
                f"{MIN_SIDE} px or more; crop or pad it to that"
            )
        if self.detect_width is None:
            ratio = min(1.0, self.default_width / frame_width)
        elif self.detect_width > frame_width:
            raise EdgeEmotionError(
                f"--detect-width {self.detect_width} is wider than the frame ({frame_width} px); "
                f"use at most {frame_width}, or leave it out to search at min({DETECT_WIDTH}, frame width)"
            )
        else:
            ratio = self.detect_width / frame_width
        return ratio if frame_height is None else max(ratio, MIN_SIDE / min(frame_width, frame_height))

    def detect(self, frame: np.ndarray) -> list[Detection]:
        height, width = frame.shape[:2]
        return self.detect_at(frame, self.ratio(width, height))

    def detect_at(self, frame: np.ndarray, ratio: float) -> list[Detection]:
        """``detect`` with the frame resized by ``ratio`` (a search width / the frame's width) instead of
        ``ratio()``'s: the wider full searches of region tracking (``regions.py``)."""
        found = [face for scale in self.scales for face in self.look(frame, ratio * scale)]
        if self.tilt or len(self.scales) > 1:
            found = strongest(found)
        return self.kept(found, frame.shape[1], frame.shape[0])

    def kept(self, found: list[Found], width: int, height: int) -> list[Detection]:
        """What was ``found`` in frame pixels as detections: at least ``min_face`` wide and scoring ``min_score``,
        clipped to the ``width`` x ``height`` frame, most certain first."""
        detections = []
        for (x, y, w, h), points, score in found:
            if w < self.min_face or score < self.min_score:
                continue
            left, top = max(0.0, x), max(0.0, y)
            right, bottom = min(float(width), x + w), min(float(height), y + h)
            if right - left < 1 or bottom - top < 1:
                continue
            box = (round(left), round(top), round(right - left), round(bottom - top))
            landmarks = None if points is None else tuple(map(tuple, points.tolist()))
            detections.append(Detection(box, float(score), landmarks))
        return sorted(detections, key=lambda d: -d.score)

    def look(self, frame: np.ndarray, ratio: float) -> list[Found]:
        """``search`` on ``frame`` resized by ``ratio``, upright and turned by +-tilt, in frame pixels."""
        interpolation = cv2.INTER_AREA if ratio < 1.0 else cv2.INTER_LINEAR
        small = frame if ratio == 1.0 else cv2.resize(frame, None, fx=ratio, fy=ratio, interpolation=interpolation)
        min_size = round(self.min_face * ratio)
        found = self.search(small, min_size)
        if self.tilt:
            found += self.turned_search(small, self.tilt, min_size) + self.turned_search(small, -self.tilt, min_size)
        return [
            (
                (x / ratio, y / ratio, w / ratio, h / ratio),
                None if points is None else pixel_centres(points, 1 / ratio),
                score,
            )
            for (x, y, w, h), points, score in found
        ]

    def turned_search(self, small: np.ndarray, degrees: float, min_size: int) -> list[Found]:
        """``search`` on ``small`` turned by ``degrees`` about its centre (same size, black corners),
        with what it finds turned back: landmarks exactly, a box about its turned-back centre."""
        height, width = small.shape[:2]
        turn = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1.0)
        turned = cv2.warpAffine(small, turn, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        back = cv2.invertAffineTransform(turn)
        found = []
        for (x, y, w, h), points, score in self.search(turned, min_size):
            cx, cy = back @ (x + w / 2, y + h / 2, 1.0)
            points = None if points is None else points @ back[:, :2].T + back[:, 2]
            found.append(((cx - w / 2, cy - h / 2, w, h), points, score))
        return found

    def search(self, small: np.ndarray, min_size: int) -> list[Found]:
        """Faces in the downscaled frame: (box, landmarks (5, 2) or None, score) in its pixels."""
        raise NotImplementedError


def strongest(found: list[Found]) -> list[Found]:
    """One of each face found more than once (upright and turned): the most certain, by box overlap."""
    if len(found) < 2:
        return found
    keep = cv2.dnn.NMSBoxes([list(box) for box, _, _ in found], [score for _, _, score in found], 0.0, NMS_IOU)
    return [found[i] for i in np.ravel(keep)]


class YuNetDetector(ScaledDetector):
    """YuNet (Wu, Peng, Yu 2023; 76k parameters, trained on WIDER FACE) through OpenCV's FaceDetectorYN:
    a box, five landmarks and a score per face, several times faster than the Haar cascade at the same
    search width and far better on turned, tilted and small faces (benchmarks/pipeline_faithfulness.py).
    """

    DEFAULT_SCORE, PHOTO_SCORE = DETECTOR_SCORES["yunet"]

    def __init__(
        self, settings: DetectorSettings | None = None, *, model: Path | None = None, nms: float = NMS_IOU
    ) -> None:
        super().__init__(settings or DetectorSettings("yunet"))
        self.path = model or shipped_yunet()
        if not self.path.is_file():
            raise EdgeEmotionError(
                f"YuNet model not found: {self.path}; "
                "reinstall edge-emotion (the package ships it) or use --detector haar"
            )
        self.nms = nms
        self.nets: dict[tuple[int, int], Any] = {}
        try:
            self.net_for((DETECT_WIDTH, DETECT_WIDTH))
        except cv2.error:
            raise EdgeEmotionError(
                f"cannot load YuNet from {self.path} (not an intact ONNX file); "
                "reinstall edge-emotion or use --detector haar"
            ) from None

    def net_for(self, size: tuple[int, int]) -> Any:
        """A FaceDetectorYN for images of ``size`` (width, height): one per size searched (a photo's two
        scales), a few at most: changing a net's input size rebuilds it, 8 % of a photo search here."""
        if size not in self.nets:
            if len(self.nets) >= MAX_NETS:
                del self.nets[next(iter(self.nets))]  # the oldest
            self.nets[size] = cv2.FaceDetectorYN.create(str(self.path), "", size, self.min_score, self.nms, 5000)
        return self.nets[size]

    def search(self, small: np.ndarray, min_size: int) -> list[Found]:
        grey = small.ndim == 2 or small.shape[2] == 1
        bgr = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR) if grey else small[..., :3]
        _, faces = self.net_for((bgr.shape[1], bgr.shape[0])).detect(np.ascontiguousarray(bgr))
        if faces is None:
            return []
        return [(tuple(face[:4]), face[4:14].reshape(5, 2), float(face[14])) for face in faces]


class HaarDetector(ScaledDetector):
    """OpenCV's frontal-face Haar cascade, shipped inside opencv-python-headless (cv2.data).

    Its score is the logistic of the cascade's last-stage weight, shifted so that a weight
    of 2 (a weak, often false, hit) scores 0.5; ``min_score`` drops weaker hits. Its 24-pixel
    window sets the smallest face it finds: 24 pixels of the downscaled frame.
    """

    CASCADE = "haarcascade_frontalface_default.xml"
    DEFAULT_SCORE, PHOTO_SCORE = DETECTOR_SCORES["haar"]

    def __init__(self, settings: DetectorSettings | None = None, *, scale_factor: float = 1.1) -> None:
        super().__init__(settings or DetectorSettings("haar"))
        path = cv2.data.haarcascades + self.CASCADE
        self.cascade = cv2.CascadeClassifier(path)
        if self.cascade.empty():
            raise EdgeEmotionError(
                f"cannot load OpenCV's face cascade {path}; install opencv-python-headless<5 (5.x ships none)"
            )
        self.scale_factor = scale_factor

    def search(self, small: np.ndarray, min_size: int) -> list[Found]:
        gray = cv2.equalizeHist(to_gray(small))
        boxes, _, weights = self.cascade.detectMultiScale3(
            gray, scaleFactor=self.scale_factor, minNeighbors=5,
            minSize=(min_size, min_size), outputRejectLevels=True,
        )  # fmt: skip
        return [
            ((float(x), float(y), float(w), float(h)), None, 1.0 / (1.0 + math.exp(2.0 - float(weight))))
            for (x, y, w, h), weight in zip(boxes, np.ravel(weights), strict=True)
        ]


DETECTORS: dict[str, Callable[[DetectorSettings], ScaledDetector]] = {"yunet": YuNetDetector, "haar": HaarDetector}


def make_detector(settings: DetectorSettings) -> ScaledDetector:
    """The detector ``settings.name`` names, made with ``settings`` (its name was checked when they were made)."""
    return DETECTORS[settings.name](settings)
