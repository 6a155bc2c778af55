"""The device loop on 640x480 video with one face and with several, at 1 and 2 threads: FPS and
per-stage latency, plain and with --mirror; and the classifier alone in faces/s at batch 1.

    python benchmarks/device_loop.py [--model M.tflite] [--frames 300]
"""

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np
from common import batch1_faces_per_second, save
from skimage import data as skimage_data

from edge_emotion.device.loop import run_loop
from edge_emotion.device.recognizer import EmotionRecognizer, shipped_model
from edge_emotion.device.sources import open_video
from edge_emotion.preprocess import face_to_input

# (threads, mirror): both thread counts, and --mirror at 2 threads
VARIANTS = ((1, False), (2, False), (2, True))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=shipped_model())
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    figures: dict = {"model": str(args.model), "frames": args.frames, "loop": {}}
    with tempfile.TemporaryDirectory() as folder:
        for faces in (1, 4):
            clip = write_clip(Path(folder) / f"{faces}.avi", scene(faces), args.frames)
            for threads, mirror in VARIANTS:
                recognizer = EmotionRecognizer(args.model, threads=threads, mirror=mirror, track=True)
                summary = run_loop(open_video(clip), recognizer, events=Path("/dev/null"))
                figures["loop"][f"{faces}_faces_{threads}_threads{'_mirror' if mirror else ''}"] = summary
    crop = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)[60:170, 170:280]
    inputs = np.stack([face_to_input(np.roll(crop, shift, axis=0)) for shift in range(64)])
    for threads, mirror in VARIANTS:
        recognizer = EmotionRecognizer(args.model, threads=threads, mirror=mirror)
        rate = batch1_faces_per_second(recognizer.classifier.predict, inputs)
        figures[f"classifier_faces_per_second_batch1_{threads}_threads{'_mirror' if mirror else ''}"] = round(rate, 1)
    save("device_loop", figures)
    print(f"\n{'scene':26} {'FPS':>6} {'capture':>8} {'detect':>8} {'classify':>9}  (median ms)")
    for name, summary in figures["loop"].items():
        stages = summary["latency_ms"]
        print(
            f"{name:26} {summary['fps']:6.1f} {stages['capture']['median']:8.2f} "
            f"{stages['detect']['median']:8.2f} {stages['classify']['median']:9.2f}"
        )


if __name__ == "__main__":
    main()
