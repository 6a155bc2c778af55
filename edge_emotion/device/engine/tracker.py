"""Keep a face's id while it stays in view, smooth its probabilities over time, and say when its emotion changes.

Interfaces react to changes, so a label must move only when the face really changed:

- smoothing is an exponential moving average whose time constant is in seconds, so a Pi at
  10 FPS and a laptop at 60 FPS respond alike: after ``smooth_seconds`` a step in the raw
  probabilities is 63 % through;
- the label changes only when another class's smoothed probability leads the current
  label's by ``hysteresis`` (a dead band that a wavering face does not cross back and forth);
- a face is reported only once it has been seen ``min_frames`` times (a one-frame false
  detection never becomes a face), and keeps its id through ``max_missed`` missed frames.

Each update also returns what happened: ``face_enter`` when a face is first reported, ``change``
when its label moves, ``face_leave`` when a reported face is gone.
"""

import math
from dataclasses import dataclass

import numpy as np

from edge_emotion.device.engine.calibration import apply_bias
from edge_emotion.device.engine.detector import Box
from edge_emotion.device.engine.settings import Steadiness


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    id: int
    box: Box
    probabilities: np.ndarray  # smoothed
    label: int  # class index; moves with hysteresis
    seen_at: float  # seconds, the last frame that showed this face
    frames: int = 1
    missed: int = 0
    bias: np.ndarray | None = None  # this person's neutral calibration, applied to each raw frame

    def confirmed(self, min_frames: int) -> bool:
        return self.frames >= min_frames


@dataclass(frozen=True)
class TrackEvent:
    kind: str  # face_enter, change, face_leave (and calibrated, from the recognizer)
    track_id: int
    time: float
    label: int  # the label now (for leave: the last one)
    previous: int | None = None  # the label before a change
    confidence: float = 0.0  # the smoothed probability of ``label``


class IouTracker:
    """Greedy IoU matching of this frame's faces to the live tracks, with smoothing and change events."""

    def __init__(self, steadiness: Steadiness | None = None, *, min_iou: float = 0.3, max_missed: int = 5) -> None:
        self.steadiness, self.min_iou, self.max_missed = steadiness or Steadiness(), min_iou, max_missed
        self.tracks: list[Track] = []
        self.next_id = 1

    def update(self, boxes: list[Box], probabilities: np.ndarray, now: float) -> tuple[list[Track], list[TrackEvent]]:
        """The tracks of this frame's faces, in the order of ``boxes``, and the events this frame caused."""
        pairs = sorted(
            ((iou(track.box, box), t, b) for t, track in enumerate(self.tracks) for b, box in enumerate(boxes)),
            reverse=True,
        )
        matched: dict[int, Track] = {}
        used: set[int] = set()
        events: list[TrackEvent] = []
        for overlap, t, b in pairs:
            if overlap < self.min_iou:
                break
            if t in used or b in matched:
                continue
            used.add(t)
            matched[b] = self.tracks[t]
            events += self._follow(self.tracks[t], boxes[b], probabilities[b], now)
        for b, box in enumerate(boxes):
            if b not in matched:
                label = int(probabilities[b].argmax())
                matched[b] = Track(self.next_id, box, probabilities[b].astype(np.float32), label, now)
                self.next_id += 1
                if matched[b].confirmed(self.steadiness.min_frames):
                    events.append(self._event("face_enter", matched[b], now))
        kept = []
        for t, track in enumerate(self.tracks):
            if t in used:
                continue
            track.missed += 1
            if track.missed <= self.max_missed:
                kept.append(track)
            elif track.confirmed(self.steadiness.min_frames):
                events.append(self._event("face_leave", track, now))
        current = [matched[b] for b in range(len(boxes))]
        self.tracks = current + kept
        return current, events

    def _follow(self, track: Track, box: Box, probabilities: np.ndarray, now: float) -> list[TrackEvent]:
        """Move a matched track on by one frame: smooth, count, and see whether it entered or changed."""
        probabilities = apply_bias(probabilities, track.bias)
        tau = self.steadiness.smooth_seconds
        past = math.exp(-max(now - track.seen_at, 0.0) / tau) if tau > 0 else 0.0
        track.probabilities = past * track.probabilities + (1 - past) * probabilities
        track.box, track.seen_at, track.missed = box, now, 0
        track.frames += 1
        best = int(track.probabilities.argmax())
        if track.frames == self.steadiness.min_frames:
            track.label = best  # the label a face enters with: its settled mean, not its first frame
            return [self._event("face_enter", track, now)]
        lead = track.probabilities[best] - track.probabilities[track.label]
        if best != track.label and lead >= self.steadiness.hysteresis:
            previous, track.label = track.label, best
            if track.confirmed(self.steadiness.min_frames):
                return [self._event("change", track, now, previous)]
        return []

    @staticmethod
    def _event(kind: str, track: Track, now: float, previous: int | None = None) -> TrackEvent:
        confidence = float(track.probabilities[track.label])
        return TrackEvent(kind, track.id, now, track.label, previous, confidence)
