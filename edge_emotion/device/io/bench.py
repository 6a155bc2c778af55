"""``edge-emotion bench``: how long each stage of the device loop takes on this machine, so a Pi or Coral owner
can see where a frame's time goes before running a camera, and report it with the machine it ran on.

Synthetic 640x480 frames (or frames from a given video or camera) go through each stage alone, timed for a
share of ``seconds``: capture, the full search, a region tracking window, the alignment, and each shipped
model with 1..``threads`` interpreter threads. The frame rates with one and four faces are the sums of those
medians (capture + full search + that many aligned and classified faces), as the loop spends them.
"""

import contextlib
import functools
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from edge_emotion import __version__
from edge_emotion.device.engine.detector import YuNetDetector
from edge_emotion.device.engine.regions import window_search
from edge_emotion.device.engine.settings import BENCH_SECONDS, BENCH_THREADS, Regions
from edge_emotion.device.io.sources import open_source
from edge_emotion.preprocess import align_face, scale, to_gray
from edge_emotion.resolve import load_classifier
from edge_emotion.shipped import SHIPPED

FRAME = (640, 480)
BOX = (260, 160, 120, 140)  # a face's box where the stages need one: landmarks as YuNet places them
LANDMARKS = ((295.0, 210.0), (345.0, 210.0), (320.0, 240.0), (300.0, 270.0), (340.0, 270.0))
MIN_RUNS = 3
REGIONS = Regions()  # the default region tracking: its window is timed


def timed(step: Callable[[], object], seconds: float) -> list[float]:
    """Milliseconds of each call of ``step``, called for about ``seconds`` (at least MIN_RUNS times)."""
    times: list[float] = []
    ends = time.perf_counter() + seconds
    while len(times) < MIN_RUNS or time.perf_counter() < ends:
        started = time.perf_counter()
        step()
        times.append(1000 * (time.perf_counter() - started))
    return times


def figures(times: list[float]) -> dict:
    return {
        "median_ms": round(float(np.median(times)), 3),
        "p95_ms": round(float(np.percentile(times, 95)), 3),
        "runs": len(times),
    }


def machine() -> dict:
    """What the figures were measured on."""
    model = ""
    try:
        with open("/proc/device-tree/model", encoding="utf-8", errors="replace") as file:  # a Pi names itself
            model = file.read().strip("\0\n ")
    except OSError:
        pass
    return {
        "machine": platform.machine(),
        "board": model or platform.processor() or platform.node(),
        "cpus": os.cpu_count(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "opencv": cv2.__version__,
        "edge_emotion": __version__,
    }


def capture_step(stack: contextlib.ExitStack, video: Path | None, camera: str | None) -> Callable[[], object]:
    """One frame from the given video (played again at its end) or camera, closed with ``stack``; or, given
    neither, one synthetic frame's making."""
    if video is None and camera is None:
        rng = np.random.default_rng(0)
        return lambda: rng.integers(0, 256, (FRAME[1], FRAME[0], 3), np.uint8)
    source = open_source(video=video, camera=camera, loop=video is not None)
    stack.callback(source.close)
    frames = source.frames()
    return lambda: next(frames)


def run_bench(
    *,
    seconds: float = BENCH_SECONDS,
    threads: int = BENCH_THREADS,
    video: Path | None = None,
    camera: str | None = None,
) -> dict:
    """Per-stage median and p95 ms on this machine, and the frame rates with one and four faces (see the module's
    description); ``threads`` >= 1."""
    stages = 4 + len(SHIPPED) * threads
    share = seconds / stages
    frame = np.random.default_rng(1).integers(0, 256, (FRAME[1], FRAME[0], 3), np.uint8)
    detector = YuNetDetector()
    grey = to_gray(frame)
    with contextlib.ExitStack() as stack:
        capture = figures(timed(capture_step(stack, video, camera), share))
    rows = [
        {"stage": "capture", "threads": None, **capture},
        {"stage": "detect full (320 px)", "threads": None, **figures(timed(lambda: detector.detect(frame), share))},
        {
            "stage": f"detect in a region ({REGIONS.window} px)",
            "threads": None,
            **figures(timed(lambda: window_search(detector, frame, BOX, REGIONS.window, REGIONS.margin), share)),
        },
        {"stage": "align", "threads": None, **figures(timed(lambda: align_face(grey, BOX, LANDMARKS), share))},
    ]
    for name in SHIPPED:
        for count in range(1, threads + 1):
            classifier = load_classifier(name, threads=count)
            faces = scale(np.array([align_face(grey, BOX, LANDMARKS, classifier.input_size)], np.uint8))
            step = functools.partial(classifier.predict, faces)
            timed(step, 0.0)  # the first calls allocate and warm up
            row = figures(timed(step, share))
            rows.append({"stage": f"classify {name}", "threads": count, **row})
    median = {(row["stage"], row["threads"]): row["median_ms"] for row in rows}
    fast = min(row["median_ms"] for row in rows if row["stage"] == "classify fast")
    base = median[("capture", None)] + median[("detect full (320 px)", None)]
    per_face = median[("align", None)] + fast
    return {
        "machine": machine(),
        "source": str(video) if video else f"camera {camera}" if camera else f"synthetic {FRAME[0]}x{FRAME[1]}",
        "stages": rows,
        "fps": {f"{n} face{'s' if n > 1 else ''}": round(1000 / (base + n * per_face), 1) for n in (1, 4)},
    }
