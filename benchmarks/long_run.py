"""A long run: 100,000 generated frames through the whole loop (detector, int8 model, tracker,
events), with the camera vanishing once half-way and coming back. Reports FPS and resident
memory at the start and the end, sampled every 10,000 frames; memory must stay flat (5 %).

    python benchmarks/long_run.py [--frames 100000] [--size 160]
"""

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from common import save
from serve_clients import rss_mb
from skimage import data as skimage_data

from edge_emotion.device.engine.recognizer import EmotionRecognizer
from edge_emotion.device.engine.settings import Outputs
from edge_emotion.device.io.loop import run_loop
from edge_emotion.device.io.sources import CaptureSource
from edge_emotion.shipped import shipped_model


class GeneratedCamera:
    """cv2.VideoCapture's interface over a face that sways; its first life ends at ``vanish_at``."""

    def __init__(self, size: int, frames: int, vanish_at: int | None, samples: dict[int, float]) -> None:
        portrait = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
        self.base = cv2.resize(portrait, (size, size))
        self.frames, self.vanish_at, self.samples = frames, vanish_at, samples
        self.opened = True

    def isOpened(self) -> bool:
        return self.opened

    def read(self) -> tuple[bool, np.ndarray | None]:
        index = GeneratedCamera.count
        if index >= self.frames or index == self.vanish_at:
            return False, None
        GeneratedCamera.count += 1
        if index % 10_000 == 0:
            self.samples[index] = rss_mb()
        return True, np.roll(self.base, (index % 9) - 4, axis=1)

    def get(self, prop: int) -> float:
        return 0.0

    def release(self) -> None:
        self.opened = False


GeneratedCamera.count = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=160, help="frame side in pixels")
    args = parser.parse_args()
    samples: dict[int, float] = {}
    lives = iter([args.frames // 2, None])  # the camera vanishes once, then comes back for good
    source = CaptureSource(
        lambda: GeneratedCamera(args.size, args.frames, next(lives), samples), "generated", live=True, retry_delay=0.1
    )
    recognizer = EmotionRecognizer(shipped_model(), track=True)
    started = time.perf_counter()
    summary = run_loop(source, recognizer, Outputs(Path("/dev/null"), max_frames=args.frames))
    samples[summary["frames"]] = rss_mb()
    start, end = samples[10_000] if 10_000 in samples else samples[0], samples[summary["frames"]]
    save("long_run", {
        "frames": summary["frames"], "size": args.size, "seconds": round(time.perf_counter() - started, 1),
        "fps": summary["fps"], "camera_reopened": not summary["source_lost"],
        "rss_mb_by_frame": samples, "rss_growth_percent": round(100 * (end - start) / start, 2),
    })  # fmt: skip


if __name__ == "__main__":
    main()
