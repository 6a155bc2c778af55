"""Keep a face's id while it stays in view, and smooth its probabilities so labels do not flicker."""

from dataclasses import dataclass

import numpy as np

from edge_emotion.device.detector import Box


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
    probabilities: np.ndarray
    missed: int = 0


class IouTracker:
    """Greedy IoU matching of this frame's faces to the last frame's tracks, with EMA smoothing.

    ``smooth`` is the weight of the past: 0 shows each frame's raw probabilities, 0.8 moves a
    label only when a new emotion holds for several frames. A track survives ``max_missed``
    frames without a match, so a face the detector misses once keeps its id.
    """

    def __init__(self, *, smooth: float = 0.6, min_iou: float = 0.3, max_missed: int = 5) -> None:
        if not 0.0 <= smooth < 1.0:
            raise ValueError("smooth must be in [0, 1)")
        self.smooth, self.min_iou, self.max_missed = smooth, min_iou, max_missed
        self.tracks: list[Track] = []
        self.next_id = 1

    def update(self, boxes: list[Box], probabilities: np.ndarray) -> list[Track]:
        """The tracks of this frame's faces, in the order of ``boxes``."""
        pairs = sorted(
            ((iou(track.box, box), t, b) for t, track in enumerate(self.tracks) for b, box in enumerate(boxes)),
            reverse=True,
        )
        matched: dict[int, Track] = {}
        used: set[int] = set()
        for overlap, t, b in pairs:
            if overlap < self.min_iou:
                break
            if t in used or b in matched:
                continue
            used.add(t)
            track = self.tracks[t]
            track.box, track.missed = boxes[b], 0
            track.probabilities = self.smooth * track.probabilities + (1 - self.smooth) * probabilities[b]
            matched[b] = track
        for b, box in enumerate(boxes):
            if b not in matched:
                matched[b] = Track(self.next_id, box, probabilities[b].copy())
                self.next_id += 1
        for t, track in enumerate(self.tracks):
            if t not in used:
                track.missed += 1
        current = [matched[b] for b in range(len(boxes))]
        kept = [t for i, t in enumerate(self.tracks) if i not in used and t.missed <= self.max_missed]
        self.tracks = current + kept
        return current
