"""Steady labels on real footage: label changes on steady stretches, and how fast a real change is reported.

    python benchmarks/steadiness.py [--clip ../shared/data/clips/WolfgangLanger_Pexels.mp4]

The clip (472 frames, 23.98 FPS) shows one woman crying, then laughing. The frame ranges below
were set by eye from contact sheets of every 12th frame and then every 3rd frame around the
change (the sheets are not kept: they are frames of the clip):

- frames 0-143: sad, crying (a hand over the mouth from about 72): a steady stretch;
- frames 144-230: calming down, hand at the mouth, looking up: ambiguous, not scored;
- frame 246: the smile is unmistakable (teeth showing, cheeks raised; a faint smile from 231);
- frames 258-471: laughing and smiling (a wink at 288, head turned near the end): a steady stretch.

Every frame is detected and classified once per pipeline; then the tracker replays those faces
under each setting, so the settings differ only in steadiness. Two pipelines: YuNet (aligned
crops, the model's low-pass: what `run` does) and Haar (boxes, no low-pass: the first pipeline).
The "EMA 0.6 per frame, argmax" rows are the first smoothing (a fixed per-frame average and
no hysteresis); the first row of the table is the first pipeline with it.
"""

import argparse
import itertools
import math
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from common import CLIPS, save

from edge_emotion.device.engine.classifier import Classifier
from edge_emotion.device.engine.recognizer import EmotionRecognizer
from edge_emotion.device.engine.tracker import IouTracker, Steadiness

CLIP = CLIPS / "WolfgangLanger_Pexels.mp4"
STEADY = {"sad": range(0, 144), "happy": range(258, 472)}
SMILE_FRAME = 246


def detect_all(clip: Path, recognizer: EmotionRecognizer) -> tuple[list[tuple[list, np.ndarray]], float, list[str]]:
    """Each frame's face boxes and raw probabilities, and the clip's frame rate."""
    capture = cv2.VideoCapture(str(clip))
    fps = capture.get(cv2.CAP_PROP_FPS) or 24.0
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        faces = recognizer.predict(image)
        probabilities = np.array([[f.probabilities[n] for n in recognizer.class_names] for f in faces])
        frames.append(([f.box for f in faces], probabilities.reshape(len(faces), len(recognizer.class_names))))
    capture.release()
    return frames, fps, recognizer.class_names


def replay(frames: list, fps: float, names: list[str], steadiness: Steadiness) -> dict:
    """Label changes per 100 face frames on each steady stretch; the frame where happy is reported; change events."""
    tracker = IouTracker(steadiness)
    labels: list[int | None] = []
    changes = []
    for index, (boxes, probabilities) in enumerate(frames):
        tracks, events = tracker.update(boxes, probabilities, index / fps)
        shown = [t for t in tracks if t.confirmed(steadiness.min_frames)]
        labels.append(max(shown, key=lambda t: t.box[2] * t.box[3]).label if shown else None)
        changes += [(index, names[e.previous], names[e.label]) for e in events if e.kind == "change"]

    def changes_per_100(stretch: range) -> tuple[list[int], float]:
        seen = [labels[i] for i in stretch if labels[i] is not None]
        flips = sum(1 for a, b in itertools.pairwise(seen) if a != b)
        return seen, round(100 * flips / max(len(seen), 1), 2)

    figures: dict = {"whole_clip_changes_per_100_frames": changes_per_100(range(len(frames)))[1]}
    for name, stretch in STEADY.items():
        seen, rate = changes_per_100(stretch)
        share = np.mean([names[label] == name for label in seen]) if seen else 0.0
        figures[name] = {
            "face_frames": len(seen),
            "changes_per_100_frames": rate,
            f"share_labelled_{name}": round(float(share), 3),
        }
    to_happy = [i for i, _, to in changes if to == "happy" and i >= STEADY["sad"].stop]
    first = to_happy[0] if to_happy else None
    figures["happy_reported_at_frame"] = first
    figures["happy_delay_seconds"] = None if first is None else round((first - SMILE_FRAME) / fps, 2)
    figures["change_events"] = len(changes)
    figures["changes"] = [f"{i}: {a} -> {b}" for i, a, b in changes]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=CLIP)
    args = parser.parse_args()
    earlier = EmotionRecognizer(detector="haar")
    unsharpened = replace(earlier.classifier.metadata, low_pass_sigma=0.0)
    earlier.classifier = Classifier(earlier.classifier.path, metadata=unsharpened)
    pipelines = {
        "Haar": detect_all(args.clip, earlier),
        "YuNet": detect_all(args.clip, EmotionRecognizer()),
    }
    fps, names = pipelines["YuNet"][1:]
    ema = Steadiness(smooth_seconds=(1 / fps) / math.log(1 / 0.6), hysteresis=0.0, min_frames=1)
    settings = {"EMA 0.6 per frame, argmax": ema, "defaults": Steadiness()}
    for seconds in (0.25, 0.5, 1.0):
        for hysteresis in (0.0, 0.1, 0.15, 0.25):
            settings[f"smooth {seconds} s, hysteresis {hysteresis}"] = Steadiness(seconds, hysteresis)
    results = {"Haar, no low-pass, EMA 0.6 per frame, argmax": replay(pipelines["Haar"][0], fps, names, ema)}
    results.update({f"YuNet, {name}": replay(pipelines["YuNet"][0], fps, names, s) for name, s in settings.items()})
    save("steadiness", {"clip": args.clip.name, "fps": round(fps, 2), "smile_frame": SMILE_FRAME, "settings": results})
    print("\n| setting | changes/100 frames: sad, happy, whole clip | happy reported (vs frame 246) | change events |")
    print("| --- | --- | --- | --- |")
    for name, r in results.items():
        delay = "never" if r["happy_reported_at_frame"] is None else f"{r['happy_delay_seconds']:+.2f} s"
        rates = (r["sad"]["changes_per_100_frames"], r["happy"]["changes_per_100_frames"])
        whole = r["whole_clip_changes_per_100_frames"]
        print(f"| {name} | {rates[0]}, {rates[1]}, {whole} | {delay} | {r['change_events']} |")


if __name__ == "__main__":
    main()
