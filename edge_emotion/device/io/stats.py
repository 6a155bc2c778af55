"""What a run did: per-stage latency (median, 95th percentile), frames per second, and the time each
face spent under each label; as JSON and as a few lines for a person."""

import time
from collections import deque

import numpy as np

from edge_emotion.device.engine.recognizer import Face


class RunStats:
    """Latencies per stage over the whole run; FPS over the last ``window`` frames for the overlay.

    Stage samples are kept in bounded deques so a run of days holds constant memory.
    """

    def __init__(self, window: int = 30, keep: int = 10_000) -> None:
        self.stages: dict[str, deque[float]] = {}
        self.recent: deque[float] = deque(maxlen=window)
        self.keep = keep
        self.frames = 0
        self.started = time.perf_counter()

    def add(self, latency: dict[str, float]) -> None:
        for stage, seconds in latency.items():
            self.stages.setdefault(stage, deque(maxlen=self.keep)).append(seconds)
        self.recent.append(time.perf_counter())
        self.frames += 1

    @property
    def fps(self) -> float:
        if len(self.recent) < 2:
            return 0.0
        return (len(self.recent) - 1) / max(self.recent[-1] - self.recent[0], 1e-9)

    def summary(self) -> dict:
        elapsed = time.perf_counter() - self.started
        return {
            "frames": self.frames,
            "seconds": round(elapsed, 2),
            "fps": round(self.frames / elapsed, 2) if elapsed > 0 else 0.0,
            "latency_ms": {
                stage: {
                    "median": round(1000 * float(np.median(samples)), 2),
                    "p95": round(1000 * float(np.percentile(samples, 95)), 2),
                }
                for stage, samples in self.stages.items()
            },
        }


class LabelTimes:
    """Seconds each tracked face (one with an id) spent under each label, from the frames' timestamps:
    a frame's labels hold until the next frame; the last frame holds as long as the one before it."""

    def __init__(self) -> None:
        self.seconds: dict[int, dict[str, float]] = {}  # id -> label -> seconds, labels in order of first use
        self.latest: float | None = None  # the latest frame's timestamp
        self.labels: list[tuple[int, str]] = []  # the latest frame's tracked faces and their labels
        self.step = 0.0  # seconds between the last two frames
        self.detections = 0

    def add(self, timestamp: float, faces: list[Face]) -> None:
        if self.latest is not None:
            self.step = max(0.0, timestamp - self.latest)
            self._credit(self.labels, self.step)
        self.latest, self.labels = timestamp, [(face.id, face.label) for face in faces if face.id is not None]
        self.detections += len(faces)
        self._credit(self.labels, 0.0)  # a face seen on one frame only is still a face seen

    def _credit(self, labels: list[tuple[int, str]], seconds: float) -> None:
        for face, label in labels:
            per_label = self.seconds.setdefault(face, {})
            per_label[label] = per_label.get(label, 0.0) + seconds

    def summary(self) -> dict:
        """``faces_detected`` (faces in all frames together) and ``seconds_per_label`` (id -> label -> s)."""
        totals = {face: dict(labels) for face, labels in self.seconds.items()}
        for face, label in self.labels:
            totals[face][label] += self.step
        return {
            "faces_detected": self.detections,
            "seconds_per_label": {
                str(face): {label: round(seconds, 2) for label, seconds in labels.items()}
                for face, labels in totals.items()
            },
        }


def describe(summary: dict) -> str:
    """A run's summary for a person: frames, rate, faces (distinct ids when tracking), and per tracked
    face its time under each label."""
    per_face = summary["seconds_per_label"]
    faces = (
        f"{plural(len(per_face), 'face')} seen" if per_face else f"{plural(summary['faces_detected'], 'face')} detected"
    )
    lines = [f"{plural(summary['frames'], 'frame')} in {summary['seconds']} s ({summary['fps']} FPS); {faces}"]
    for face, labels in per_face.items():
        lines.append(f"face #{face}: " + ", ".join(f"{label} {seconds:.1f} s" for label, seconds in labels.items()))
    return "\n".join(lines)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
