"""The engine behind ``edge-emotion run`` and the Python API: frame -> faces -> emotions.

from edge_emotion import EmotionRecognizer
for face in EmotionRecognizer(photos=True).predict(cv2.imread("group.jpg")):
    print(face.box, face.label, face.probabilities[face.label])
"""

import math
import numbers
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edge_emotion.device.engine.calibration import Calibration, apply_bias
from edge_emotion.device.engine.detector import Box, FaceDetector, Landmarks, ScaledDetector, make_detector
from edge_emotion.device.engine.regions import RegionSearch
from edge_emotion.device.engine.settings import THREADS, DetectorSettings, Regions, Steadiness, as_json
from edge_emotion.device.engine.tracker import IouTracker, Track, TrackEvent
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.preprocess import align_face, scale, to_gray
from edge_emotion.resolve import load_classifier


def as_frame(image: object) -> np.ndarray:
    """The frame ``predict`` works on: a uint8 image as OpenCV gives it, (H, W) grey or (H, W, 3|4) BGR(A).

    (H, W, 1) is grey too, and becomes (H, W). A bool mask becomes black and white (0, 255). Other
    types are refused rather than guessed: float images come as 0..1 or as 0..255 and the two would
    give different faces.
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
    return image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image


def seconds_of(timestamp: object) -> float:
    """A frame's time as ``predict`` takes it: a finite number of seconds; anything else is an error, as an
    infinite or NaN time would make every later smoothed probability NaN."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, numbers.Real) or not math.isfinite(timestamp):
        raise EdgeEmotionError(f"timestamp must be a finite number of seconds (or None: now), got {timestamp!r}")
    return float(timestamp)


@dataclass(frozen=True)
class Face:
    """One face found in a frame, and what the model makes of it."""

    box: Box  # x, y, width, height in frame pixels
    score: float  # detection score, 0..1
    probabilities: dict[str, float]  # class name -> probability (smoothed when tracking)
    label: str
    id: int | None = None  # stays the same while the face stays in view (tracking only)
    landmarks: Landmarks | None = None  # five (x, y) points in frame pixels (YuNet), else None
    calibrating: bool = False  # its neutral face is being learned (tracking with calibration only)

    def as_dict(self) -> dict:
        """The face as JSON-ready values, rounded: what the events and the live server carry."""
        return {
            "id": self.id,
            "box": list(self.box),
            "score": round(self.score, 4),
            "landmarks": None if self.landmarks is None else [[round(x, 1), round(y, 1)] for x, y in self.landmarks],
            "label": self.label,
            "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
            "calibrating": self.calibrating,
        }


def detector_of(detector: FaceDetector | DetectorSettings | str, photos: bool) -> FaceDetector:
    """The detector a recognizer is given, or the one its name or settings describe, searching as for photos
    with ``photos`` whatever the settings say."""
    if isinstance(detector, str):
        detector = DetectorSettings(detector)
    if not isinstance(detector, DetectorSettings):
        return detector
    return make_detector(replace(detector, photos=True) if photos else detector)


class EmotionRecognizer:
    """Detect every face in a BGR frame and classify it with the int8 model.

    Faces come from YuNet by default (``detector="haar"`` for OpenCV's cascade, ``DetectorSettings`` for
    either with its search settings: ``min_face``, ``min_score``, ``detect_width``, ``tilt``, or any object
    with a ``detect`` method). ``photos=True`` changes the search's defaults for photos,
    where time matters less than every face: the frame's own width up to 1280 px and 1.5 times
    that, each turned by +-25 degrees too, and a YuNet score of 0.75 (about 0.1 s a 640x480
    frame here against 5 ms; see
    ``benchmarks/pipeline_faithfulness.py``). Each face is mapped onto the model's input as FER2013 frames faces
    (``preprocess.align_face``): by its landmarks when the detector gives them.
    ``mirror=True`` averages each face with its mirror image: about a point more accurate
    for twice the classifier's (small) share of a frame. With ``track=True`` (the live loop)
    faces keep ids across frames, their probabilities are smoothed over time and their labels
    move with hysteresis (``steadiness``, see ``tracker.py``); a face counts once it has been
    seen a few frames, and each face is searched for in a window around where it was, the whole frame
    only every few frames (``regions``, see ``regions.py``; None: the whole frame every frame).
    ``last_events`` then holds what the last call saw happen, as dicts:
    ``face_enter``, ``change`` (from, to), ``face_leave`` and ``calibrated``. With
    ``track=False`` each call stands alone (photos).
    ``calibrate(track_id)`` takes a face's next seconds as its neutral face (``calibration.py``);
    ``calibrate_seconds`` does so for the first seconds of every new face.
    ``last_latency`` holds the seconds spent detecting and classifying in the last call, and
    ``resolved()`` the settings it works with, defaults filled in.

    ``predict`` is safe to call from several threads: calls take turns, because the interpreter,
    OpenCV's cascade and the tracker each hold state for the call in progress.
    """

    def __init__(
        self,
        model: Path | str | None = None,
        *,
        threads: int = THREADS,
        edgetpu: bool = False,
        detector: FaceDetector | DetectorSettings | str = "yunet",
        photos: bool = False,
        largest: bool = False,
        mirror: bool = False,
        track: bool = False,
        steadiness: Steadiness | None = None,
        calibrate_seconds: float = 0.0,
        regions: Regions | None = None,
    ) -> None:
        self.classifier = load_classifier(model, threads=threads, edgetpu=edgetpu, mirror=mirror)
        self.threads, self.edgetpu = threads, edgetpu
        self.detector = detector_of(detector, photos)
        # With ``regions`` a tracked stream follows each face in a window around its last box (regions.py);
        # None (the default) searches every frame whole, as photos are.
        self.search: FaceDetector = self.detector
        if track and regions is not None and isinstance(self.detector, ScaledDetector):
            self.search = RegionSearch(self.detector, regions)
        self.regions = regions if isinstance(self.search, RegionSearch) else None  # what the search follows
        self.largest = largest
        if not 0.0 <= calibrate_seconds <= 60.0:
            raise EdgeEmotionError(f"calibration takes 0 to 60 seconds, got {calibrate_seconds}")
        self.tracker = IouTracker(steadiness or Steadiness()) if track else None
        self.neutral = self.class_names.index("neutral") if "neutral" in self.class_names else None
        if calibrate_seconds:
            self._check_neutral()
        self.calibrate_seconds = calibrate_seconds
        self.calibrations: dict[int, Calibration] = {}  # track id -> its neutral window in progress
        self.now = -1.0  # the last frame's time
        self.last_latency = {"detect": 0.0, "classify": 0.0}
        self.last_events: list[dict] = []
        self.ended: list[TrackEvent] = []  # face_leave events of end_tracks, for the next frame's events
        self.lock = threading.Lock()

    def resolved(self) -> dict:
        """The settings this recognizer works with as JSON, defaults filled in (the model as its file, the
        detector's settings as it searches): what a run records beside its events and in its summary."""
        search = self.detector.settings if isinstance(self.detector, ScaledDetector) else None
        return {
            "model": str(self.classifier.path),
            "threads": self.threads,
            "edgetpu": self.edgetpu,
            "detector": type(self.detector).__name__ if search is None else as_json(search),
            "largest": self.largest,
            "mirror": self.classifier.mirror,
            "track": self.tracker is not None,
            "steadiness": None if self.tracker is None else as_json(self.tracker.steadiness),
            "calibrate_seconds": self.calibrate_seconds,
            "regions": None if self.regions is None else as_json(self.regions),
        }

    @property
    def class_names(self) -> list[str]:
        """The model's classes, in its output order (from its metadata): the keys of ``Face.probabilities``."""
        return self.classifier.class_names

    def predict(self, frame: np.ndarray, timestamp: float | None = None) -> list[Face]:
        """Every face in ``frame``, a uint8 image as ``cv2.imread`` gives it (BGR or grey; see ``as_frame``),
        as a list of ``Face``: box, detection score, class probabilities, label, and with ``track=True``
        an id that stays while the face stays in view. An empty list when there is no face.

        ``timestamp`` (seconds; default: now) times the smoothing and the events of a tracked
        stream: pass a video's own frame times to replay it faster or slower than real time. A
        time that does not move forward (a container without frame times) counts as one frame
        at 30 FPS after the last. A time that is not a finite number of seconds (inf, nan) is an error.
        """
        frame = as_frame(frame)
        given = None if timestamp is None else seconds_of(timestamp)
        with self.lock:
            now = time.monotonic() if given is None else given
            self.now = now if now > self.now else self.now + 1 / 30
            return self._predict(frame)

    def calibrate(self, track_id: int, seconds: float = 2.0) -> bool:
        """Take the face ``track_id``'s next ``seconds`` as its neutral face; it reads neutral at rest afterwards.

        False when that face is already calibrating: it keeps its window, so a flood of requests
        changes nothing. An error for a face not in view, or an id that is not an int (ids are
        integers: ``"1"`` and ``True`` are refused, not read as face 1).
        """
        if isinstance(track_id, bool) or not isinstance(track_id, numbers.Integral):
            raise EdgeEmotionError(f"face ids are integers (Face.id), got {track_id!r}")
        if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real):
            raise EdgeEmotionError(f"calibration takes 0 to 60 seconds, got {seconds!r}")
        track_id = int(track_id)
        with self.lock:
            if self.tracker is None:
                raise EdgeEmotionError("calibration needs a tracked stream (track=True): ids identify the faces")
            if not 0.0 < seconds <= 60.0:
                raise EdgeEmotionError(f"calibration takes 0 to 60 seconds, got {seconds}")
            self._check_neutral()
            if self._track(self.tracker, track_id) is None:
                raise EdgeEmotionError(f"no face with id {track_id} in view")
            if track_id in self.calibrations:
                return False
            self.calibrations[track_id] = Calibration(self.now, seconds)
            return True

    def end_tracks(self) -> None:
        """Every face of a tracked stream leaves (a video played again from its start): the next call's events
        start with their ``face_leave``, and the faces it finds are new ones, with new ids."""
        with self.lock:
            if self.tracker is None:
                return
            shown = [t for t in self.tracker.tracks if t.confirmed(self.tracker.steadiness.min_frames)]
            self.ended += [
                TrackEvent("face_leave", t.id, self.now, t.label, None, float(t.probabilities[t.label])) for t in shown
            ]
            self.tracker.tracks, self.calibrations = [], {}
            if isinstance(self.search, RegionSearch):
                self.search.forget()

    def _check_neutral(self) -> int:
        """The neutral class's index, which calibration moves a face toward; an error for a model without one."""
        if self.neutral is None:
            raise EdgeEmotionError(
                f"{self.classifier.path}: its classes ({', '.join(self.class_names)}) have no neutral to calibrate to"
            )
        return self.neutral

    def _track(self, tracker: IouTracker, track_id: int) -> Track | None:
        shown = [t for t in tracker.tracks if t.confirmed(tracker.steadiness.min_frames)]
        return next((t for t in shown if t.id == track_id), None)

    def _predict(self, frame: np.ndarray) -> list[Face]:
        started = time.perf_counter()
        detections = self.search.detect(frame)
        if self.largest and detections:
            detections = [max(detections, key=lambda d: d.box[2] * d.box[3])]
        detected = time.perf_counter()
        size = self.classifier.input_size
        gray = to_gray(frame)
        crops = [align_face(gray, d.box, d.landmarks, size) for d in detections]
        inputs = scale(np.array(crops, np.uint8).reshape(-1, size, size))
        probabilities = self.classifier.predict(inputs)
        self.last_latency = {"detect": detected - started, "classify": time.perf_counter() - detected}
        names = self.class_names
        if self.tracker is None:
            return [
                Face(d.box, d.score, self._named(p), names[int(p.argmax())], None, d.landmarks)
                for d, p in zip(detections, probabilities, strict=True)
            ]
        tracks, events = self.tracker.update([d.box for d in detections], probabilities, self.now)
        events, self.ended = self.ended + events, []
        events += self._calibrate(self.tracker, tracks, probabilities)
        self.last_events = [self._event_dict(event) for event in events]
        shown = [
            (d, t) for d, t in zip(detections, tracks, strict=True) if t.confirmed(self.tracker.steadiness.min_frames)
        ]
        return [
            Face(
                d.box,
                d.score,
                self._named(t.probabilities),
                names[t.label],
                t.id,
                d.landmarks,
                t.id in self.calibrations,
            )
            for d, t in shown
        ]

    def _named(self, probabilities: np.ndarray) -> dict[str, float]:
        return dict(zip(self.class_names, map(float, probabilities), strict=True))

    def _calibrate(self, tracker: IouTracker, tracks: list[Track], raw: np.ndarray) -> list[TrackEvent]:
        """Feed each calibrating face its raw frame; a finished window becomes the face's bias."""
        if self.calibrate_seconds:
            for track in tracks:
                if track.frames == tracker.steadiness.min_frames:  # a face from the frame it counts
                    self.calibrations[track.id] = Calibration(self.now, self.calibrate_seconds)
        live = {t.id for t in tracker.tracks}
        self.calibrations = {i: c for i, c in self.calibrations.items() if i in live}
        done = []
        for track, probabilities in zip(tracks, raw, strict=True):
            window = self.calibrations.get(track.id)
            if window is None or not window.add(probabilities, self.now):
                continue
            bias = window.bias(self._check_neutral())
            # The smoothed mean already holds an earlier bias: move it by the difference only.
            track.probabilities = apply_bias(track.probabilities, bias - (0.0 if track.bias is None else track.bias))
            track.bias = bias
            previous, track.label = track.label, int(track.probabilities.argmax())
            del self.calibrations[track.id]
            if previous != track.label:
                done.append(
                    TrackEvent("change", track.id, self.now, track.label, previous, float(track.probabilities.max()))
                )
            done.append(
                TrackEvent("calibrated", track.id, self.now, track.label, None, float(track.probabilities.max()))
            )
        return done

    def _event_dict(self, event: TrackEvent) -> dict:
        names = self.class_names
        base = {"event": event.kind, "id": event.track_id, "time": round(event.time, 3)}
        if event.kind == "change" and event.previous is not None:
            return {
                **base,
                "from": names[event.previous],
                "to": names[event.label],
                "confidence": round(event.confidence, 4),
            }
        return {**base, "label": names[event.label], "confidence": round(event.confidence, 4)}
