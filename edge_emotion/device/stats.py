"""Per-stage latency (median, 95th percentile) and frames per second of a run."""

import time
from collections import deque

import numpy as np


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
