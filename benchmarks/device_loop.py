"""The device loop with each detector, in one run: 640x480 video with one face and with four, at 1
and 2 threads (the interpreter's and OpenCV's), plain and with --mirror: FPS, per-stage latency and
faces found per frame; the real clip of ../shared/data/clips; the classifier alone in faces/s at batch 1.

    python benchmarks/device_loop.py [--model M.tflite] [--frames 300]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from common import CLIPS, batch1_faces_per_second, save
from skimage import data as skimage_data

from edge_emotion.device.engine.recognizer import EmotionRecognizer
from edge_emotion.device.engine.settings import Outputs
from edge_emotion.device.io.loop import run_loop
from edge_emotion.device.io.sources import open_video
from edge_emotion.preprocess import face_to_input
from edge_emotion.shipped import shipped_model

# (threads, mirror): both thread counts, and --mirror at 2 threads
VARIANTS = ((1, False), (2, False), (2, True))
DETECTORS = ("yunet", "haar")
REAL_CLIP = CLIPS / "WolfgangLanger_Pexels.mp4"


def scene(faces: int) -> np.ndarray:
    """A 640x480 frame with ``faces`` copies of scikit-image's astronaut portrait."""
    portrait = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    frame = np.full((480, 640, 3), 40, np.uint8)
    if faces == 1:
        frame[:, 80:560] = cv2.resize(portrait, (480, 480))
        return frame
    size = 300
    for index, (top, left) in enumerate([(0, 0), (0, 320), (180, 0), (180, 320)][:faces]):
        tile = cv2.resize(portrait if index % 2 == 0 else cv2.flip(portrait, 1), (size, size))
        frame[top : top + size, left : left + size] = tile
    return frame


def write_clip(path: Path, frame: np.ndarray, frames: int) -> Path:
    """A clip with a little camera shake, so the tracker and detector work as on a real feed."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    for index in range(frames):
        writer.write(np.roll(frame, (index % 7) - 3, axis=1))
    writer.release()
    return path


def loop(clip: Path, recognizer: EmotionRecognizer, threads: int, events: Path) -> dict:
    """One run of the loop over ``clip``: its stats, and how many faces each frame had."""
    cv2.setNumThreads(threads)  # the detectors run on OpenCV's threads, the classifier on the interpreter's
    summary = run_loop(open_video(clip), recognizer, Outputs(events, events_mode="frames"))
    faces = [len(json.loads(line)["faces"]) for line in events.read_text().splitlines()]
    return {**summary, "frames_with_a_face": sum(n > 0 for n in faces), "faces_per_frame": round(np.mean(faces), 3)}


def interleaved(frames: list[np.ndarray], model: Path, threads: int) -> dict:
    """Median ms per frame to detect, and to detect and classify, with the detectors taking turns frame
    by frame: load from other processes falls on both alike, so their ratio holds on a busy machine."""
    cv2.setNumThreads(threads)
    recognizers = {name: EmotionRecognizer(model, threads=threads, track=True, detector=name) for name in DETECTORS}
    detect: dict[str, list[float]] = {name: [] for name in DETECTORS}
    total: dict[str, list[float]] = {name: [] for name in DETECTORS}
    for frame in frames:
        for name, recognizer in recognizers.items():
            started = time.perf_counter()
            recognizer.predict(frame)
            total[name].append(time.perf_counter() - started)
            detect[name].append(recognizer.last_latency["detect"])
    figures = {
        name: {
            "detect_ms": round(1000 * np.median(detect[name]), 2),
            "frame_ms": round(1000 * np.median(total[name]), 2),
        }
        for name in DETECTORS
    }
    yunet, haar = figures["yunet"], figures["haar"]
    return {
        **figures,
        "detect_speedup": round(haar["detect_ms"] / yunet["detect_ms"], 2),
        "frame_speedup": round(haar["frame_ms"] / yunet["frame_ms"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=shipped_model())
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    figures: dict = {"model": str(args.model), "frames": args.frames, "loop": {}, "real_clip": {}, "interleaved": {}}
    with tempfile.TemporaryDirectory() as folder:
        events = Path(folder) / "events.jsonl"
        for faces in (1, 4):
            clip = write_clip(Path(folder) / f"{faces}.avi", scene(faces), args.frames)
            shaken = [np.roll(scene(faces), (index % 7) - 3, axis=1) for index in range(7)] * (args.frames // 7)
            for threads in (1, 2):
                figures["interleaved"][f"{faces}_faces_{threads}_threads"] = interleaved(shaken, args.model, threads)
            for detector in DETECTORS:
                for threads, mirror in VARIANTS:
                    recognizer = EmotionRecognizer(
                        args.model, threads=threads, mirror=mirror, track=True, detector=detector
                    )
                    name = f"{detector}_{faces}_faces_{threads}_threads{'_mirror' if mirror else ''}"
                    figures["loop"][name] = loop(clip, recognizer, threads, events)
        for detector in DETECTORS if REAL_CLIP.is_file() else ():
            recognizer = EmotionRecognizer(args.model, track=True, detector=detector)
            figures["real_clip"][detector] = {"clip": REAL_CLIP.name, **loop(REAL_CLIP, recognizer, 2, events)}
    crop = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)[60:170, 170:280]
    inputs = np.stack([face_to_input(np.roll(crop, shift, axis=0)) for shift in range(64)])
    for threads, mirror in VARIANTS:
        recognizer = EmotionRecognizer(args.model, threads=threads, mirror=mirror)
        rate = batch1_faces_per_second(recognizer.classifier.predict, inputs)
        figures[f"classifier_faces_per_second_batch1_{threads}_threads{'_mirror' if mirror else ''}"] = round(rate, 1)
    save("device_loop", figures)
    print(f"\n{'run':36} {'FPS':>6} {'capture':>8} {'detect':>8} {'classify':>9} {'faces/frame':>12}  (median ms)")
    runs = {**figures["loop"], **{f"real_clip_{name}": summary for name, summary in figures["real_clip"].items()}}
    for name, summary in runs.items():
        stages = summary["latency_ms"]
        print(
            f"{name:36} {summary['fps']:6.1f} {stages['capture']['median']:8.2f} {stages['detect']['median']:8.2f} "
            f"{stages['classify']['median']:9.2f} {summary['faces_per_frame']:12.3f}"
        )
    print("\ninterleaved, median ms: detect and whole frame (detect + align + classify), Haar / YuNet")
    for name, entry in figures["interleaved"].items():
        print(f"{name:18} detect {entry['detect_speedup']:5.2f}x   frame {entry['frame_speedup']:5.2f}x   {entry}")


if __name__ == "__main__":
    main()
