"""Region tracking against searching every frame whole, on streams: FER2013 PrivateTest faces placed in
640x480 frames that drift, scale (80-240 px), turn and enter and leave, and the real clip.

    python benchmarks/stream_tracking.py [--sequences 4] [--frames 120]

Each sequence (30 FPS) holds one or two faces on one of pipeline_faithfulness.py's face-free backgrounds:
``drift`` (80-240 px, moving up to 4 px a frame), ``small`` (80-120 px, moving), ``scale`` (80 to 240 px
or back), ``turn`` (rolling -20 to +20 degrees), ``enter_leave`` (a second face from a third to two thirds
of the sequence) and ``two`` (two faces drifting). Every setting sees the same frames, taking turns frame
by frame, so load from other processes falls on all alike and their ratios hold on a busy machine.

Per setting: detection ms and detect + align + classify ms per frame (median), faces found per frame
(each placed face on the frames after its first second in view; matched as pipeline_faithfulness.py
matches), the same for 80-120 px faces, id switches, accuracy through the pipeline against FER2013's
labels (a missed face counts as wrong), false faces, and the share of frames that paid for a full
search; and the accuracy where every setting found the face. On the real clip: labels and change events
against today's every-frame search. Then, on --crop-faces placed faces (one frame each), accuracy aligned
from a whole search's landmarks against a window's around it, the same faces: whether windows change what
a face reads as, on far more faces than the sequences hold.

A Raspberry Pi 4 estimate: published per-frame YuNet figures on a Pi 4 (160x120 about 5.4 ms,
320x240 about 21 ms: about 0.275 us a pixel searched) times the pixels each setting searched a frame
(its windows, padded as YuNet pads its input to multiples of 32, and its full searches as counted),
plus the classifier's ms here scaled by the same Pi / here ratio as YuNet's 320x240 search.
"""

import argparse
import math
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from common import CLIPS, fer_csv, save
from pipeline_faithfulness import HEIGHT, WIDTH, backgrounds, match

from edge_emotion.device.engine.detector import ScaledDetector
from edge_emotion.device.engine.recognizer import EmotionRecognizer
from edge_emotion.device.engine.regions import Regions, RegionSearch, roll, window_search
from edge_emotion.device.engine.settings import FULL_WIDTH, DetectorSettings, as_json
from edge_emotion.device.io.sources import open_video
from edge_emotion.preprocess import align_face, scale, to_gray
from edge_emotion.shipped import shipped_model
from edge_emotion.training.data import FaceSet, load_faces

FPS = 30
KINDS = ("drift", "small", "scale", "turn", "enter_leave", "two")
# (name, EmotionRecognizer's regions): today's every-frame search first, then the default, then others
SETTINGS = (
    ("every_frame_320", None),
    ("regions", Regions()),
    ("regions_window_every_2", Regions(window_every=2)),
    ("regions_160_margin_1.6", Regions(window=160, margin=1.6)),
    ("regions_128_margin_2_every_2", Regions(window=128, margin=2.0, window_every=2)),
    ("regions_full_640", Regions(full_width=640)),
    ("regions_every_15", Regions(every=15)),
)
PI4_US_PER_PIXEL = (5.4 / (160 * 120) + 21.0 / (320 * 240)) / 2 * 1000
PI4_YUNET_320_MS = 21.0
REAL_CLIP = CLIPS / "WolfgangLanger_Pexels.mp4"
CLIP_WIDTHS = (288, 352, 384, 448, 480)  # every-frame search widths beside 320 on the real clip


def face_path(kind: str, rng: np.random.Generator, frames: int, second: bool = False) -> dict:
    """Where one face is on each frame: centre, size, angle, and the frames it is in view."""
    small = kind == "small"
    size = rng.uniform(80, 120) if small else rng.uniform(80, 240)
    sizes = np.full(frames, size)
    if kind == "scale":
        sizes = np.linspace(80, 240, frames)[:: 1 if rng.random() < 0.5 else -1]
    angles = np.full(frames, rng.uniform(-10, 10))
    if kind == "turn":
        angles = 20 * np.sin(np.linspace(0, 2 * np.pi, frames) + rng.uniform(0, np.pi))
    speed = 0.0 if kind in ("scale", "turn") else 4.0
    velocity = rng.uniform(-speed, speed, 2)
    centre = np.array([rng.uniform(150, WIDTH - 150), rng.uniform(130, HEIGHT - 130)])
    if second or kind == "two":
        centre[0] = WIDTH - 130 if second else centre[0]
    centres = []
    for index in range(frames):
        reach = sizes[index] / 2 * 1.3
        low, high = np.array([reach, reach]), np.array([WIDTH - reach, HEIGHT - reach])
        centre = centre + velocity + rng.normal(0, 0.7, 2)  # a little hand shake
        bounce = (centre < low) | (centre > high)
        velocity[bounce] *= -1
        centre = np.clip(centre, low, high)
        centres.append(centre.copy())
    start, end = (frames // 3, 2 * frames // 3) if second and kind == "enter_leave" else (0, frames)
    return {"centres": np.array(centres), "sizes": sizes, "angles": angles, "start": start, "end": end}


def sequence(kind: str, rng: np.random.Generator, frames: int, faces: int, pictures: list) -> dict:
    count = 2 if kind in ("enter_leave", "two") else 1
    paths = [face_path(kind, rng, frames, second=index > 0) for index in range(count)]
    if count == 2:  # side by side
        paths[0]["centres"][:, 0] = np.clip(paths[0]["centres"][:, 0], 0, WIDTH / 2 - 60)
        paths[1]["centres"][:, 0] = np.clip(paths[1]["centres"][:, 0], WIDTH / 2 + 60, WIDTH)
        for path in paths:
            path["sizes"] = np.minimum(path["sizes"], 150)
            reach = path["sizes"] / 2 * 1.3
            path["centres"][:, 0] = np.clip(path["centres"][:, 0], reach, WIDTH - reach)
    picture = int(rng.integers(len(pictures)))
    height, width = pictures[picture].shape[:2]
    return {
        "kind": kind,
        "faces": [int(i) for i in rng.choice(faces, count, replace=False)],
        "paths": paths,
        "background": (picture, int(rng.integers(height - HEIGHT + 1)), int(rng.integers(width - WIDTH + 1))),
    }


def place(frame: np.ndarray, face: np.ndarray, centre: np.ndarray, size: float, angle: float) -> None:
    """``face`` (48x48 grey) drawn into ``frame`` at ``centre``, ``size`` px wide, turned ``angle`` degrees."""
    matrix = cv2.getRotationMatrix2D((23.5, 23.5), angle, size / 48)
    matrix[:, 2] += centre - (23.5, 23.5)
    cv2.warpAffine(
        cv2.cvtColor(face, cv2.COLOR_GRAY2BGR), matrix, (WIDTH, HEIGHT), dst=frame,
        flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_TRANSPARENT,
    )  # fmt: skip


def render(seq: dict, index: int, images: np.ndarray, pictures: list) -> tuple[np.ndarray, list[dict | None]]:
    """The frame and, per face, where it is (None when out of view)."""
    picture, top, left = seq["background"]
    frame = pictures[picture][top : top + HEIGHT, left : left + WIDTH].copy()
    truths: list[dict | None] = []
    for face, path in zip(seq["faces"], seq["paths"], strict=True):
        if not path["start"] <= index < path["end"]:
            truths.append(None)
            continue
        size, angle, centre = path["sizes"][index], path["angles"][index], path["centres"][index]
        place(frame, images[face], centre, size, angle)
        truths.append({"centre": tuple(centre), "size": size, "in_view": index - path["start"]})
    return frame, truths


class Tally:
    """What one setting did over the sequences."""

    def __init__(self) -> None:
        self.detect, self.total, self.classify = [], [], []
        self.found, self.small, self.right, self.one_face_ms = [], [], [], []
        self.false = self.switches = 0
        self.frames = self.full = self.windows = 0
        self.ids: dict[tuple[int, int], list[int]] = {}
        self.outcomes: dict[tuple[int, int, int], bool] = {}  # (sequence, face, frame) found -> labelled right

    def add(
        self, recognizer: EmotionRecognizer, faces: list, truths: list, labels: list, key: tuple[int, int], names: list
    ) -> None:
        """One frame's faces against where the faces were (``key``: the sequence and the frame)."""
        latency = recognizer.last_latency
        self.detect.append(1000 * latency["detect"])
        self.classify.append(1000 * latency["classify"])
        self.total.append(1000 * (latency["detect"] + latency["classify"]))
        if sum(t is not None for t in truths) == 1:
            self.one_face_ms.append(self.total[-1])
        matched = 0
        for number, (truth, label) in enumerate(zip(truths, labels, strict=True)):
            if truth is None:
                continue
            face = match(faces, truth)
            matched += face is not None
            if face is not None:
                self.ids.setdefault((key[0], number), []).append(face.id)
            if truth["in_view"] < FPS:  # a face's first second: not scored
                continue
            self.found.append(face is not None)
            if truth["size"] <= 120:
                self.small.append(face is not None)
            self.right.append(face is not None and names.index(face.label) == label)
            if face is not None:
                self.outcomes[(key[0], number, key[1])] = self.right[-1]
        self.false += len(faces) - matched

    def figures(self, counts: dict | None) -> dict:
        """The figures; ``counts``: the region search's frames, full searches and windows (None: every frame)."""
        switches = sum(int(np.sum(np.diff(ids) != 0)) for ids in self.ids.values())
        full = counts["full_searches"] / counts["frames"] if counts else 1.0
        windows = counts["windows"] / counts["frames"] if counts else 0.0
        return {
            "detect_ms_median": round(float(np.median(self.detect)), 3),
            "detect_ms_mean": round(float(np.mean(self.detect)), 3),
            "frame_ms_median": round(float(np.median(self.total)), 3),
            "frame_ms_mean": round(float(np.mean(self.total)), 3),
            "one_face_frame_ms_mean": round(float(np.mean(self.one_face_ms)), 3),
            "classify_ms_median": round(float(np.median(self.classify)), 3),
            "found_pct": round(100 * float(np.mean(self.found)), 2),
            "found_80_120_px_pct": round(100 * float(np.mean(self.small)), 2),
            "pipeline_accuracy_pct": round(100 * float(np.mean(self.right)), 2),
            "accuracy_on_found_pct": round(100 * float(np.sum(self.right)) / max(1, int(np.sum(self.found))), 2),
            "false_faces": self.false,
            "id_switches": switches,
            "full_search_share": round(full, 4),
            "windows_per_frame": round(windows, 3),
        }


def full_width(regions: Regions) -> int:
    """The width a full search asks for (the detector here has no ``detect_width`` of its own)."""
    return regions.full_width or FULL_WIDTH


def pi4_estimate(figures: dict, settings: dict, here_yunet_320_ms: float, frame: tuple[int, int]) -> dict:
    """Detect and detect + classify ms a frame on a Pi 4, and the frames per second of compute that leaves."""
    regions = settings
    if regions is None:
        pixels = 320 * 240 * frame[1] / HEIGHT * frame[0] / WIDTH
    else:
        full = min(frame[0], full_width(regions))
        padded = math.ceil(regions.window / 32) * 32  # YuNet pads its input to multiples of 32
        pixels = figures["windows_per_frame"] * padded**2 + figures["full_search_share"] * full * (
            full * frame[1] / frame[0]
        )
    detect = pixels * PI4_US_PER_PIXEL / 1000
    classify = figures["classify_ms_median"] * PI4_YUNET_320_MS / here_yunet_320_ms
    return {
        "pi4_detect_ms": round(detect, 2),
        "pi4_frame_ms": round(detect + classify, 2),
        "pi4_compute_fps": round(1000 / (detect + classify), 1),
    }


def window_crops(model: Path, test: FaceSet, pictures: list, faces: int, seed: int) -> dict:
    """Accuracy on the same placed faces (one frame each, 80-240 px, turned up to 10 degrees) aligned from a whole
    search's landmarks and from a window's around it: whether windows change what a face reads as, on
    many more faces than the sequences hold."""
    recognizer = EmotionRecognizer(model)
    detector, classifier = recognizer.detector, recognizer.classifier
    assert isinstance(detector, ScaledDetector)
    windows = {"window_crops": Regions(), "window_128_margin_2_crops": Regions(window=128, margin=2.0)}
    rng = np.random.default_rng(seed)
    right: dict[str, list[bool]] = {"full_search_crops": [], **{name: [] for name in windows}}
    for index in rng.choice(len(test.images), faces, replace=False):
        picture = pictures[int(rng.integers(len(pictures)))]
        frame = picture[:HEIGHT, :WIDTH].copy()
        size, angle = rng.uniform(80, 240), rng.uniform(-10, 10)
        centre = np.array([rng.uniform(150, WIDTH - 150), rng.uniform(130, HEIGHT - 130)])
        place(frame, test.images[index], centre, size, angle)
        truth = {"centre": tuple(centre), "size": size}
        whole = match(detector.detect(frame), truth)
        if whole is None:
            continue
        found = {"full_search_crops": whole}
        for name, regions in windows.items():
            found[name] = match(
                window_search(detector, frame, whole.box, regions.window, regions.margin, roll(whole)), truth
            )
        if any(d is None for d in found.values()):
            continue
        gray, side = to_gray(frame), classifier.input_size
        crops = np.array([align_face(gray, d.box, d.landmarks, side) for d in found.values()], np.uint8)
        predicted = classifier.predict(scale(crops.reshape(-1, side, side))).argmax(axis=1)
        for name, label in zip(found, predicted, strict=True):
            right[name].append(int(label) == int(test.labels[index]))
    return {"faces": len(right["full_search_crops"])} | {
        f"{name}_pct": round(100 * float(np.mean(hits)), 2) for name, hits in right.items()
    }


def real_clip(model: Path) -> dict:
    """Labels and change events on the real clip, per setting, against every-frame search; and the same for
    every-frame searches at other widths, which say how far a change moves when the landmarks move a little."""
    recognizers = {name: EmotionRecognizer(model, track=True, regions=regions) for name, regions in SETTINGS} | {
        f"every_frame_{width}": EmotionRecognizer(model, track=True, detector=DetectorSettings(detect_width=width))
        for width in CLIP_WIDTHS
    }
    labels: dict[str, list] = {name: [] for name in recognizers}
    changes: dict[str, list] = {name: [] for name in recognizers}
    detect: dict[str, list] = {name: [] for name in recognizers}
    source = open_video(REAL_CLIP)
    try:
        for frame in source.frames():
            for name, recognizer in recognizers.items():
                faces = recognizer.predict(frame.image, frame.timestamp)
                detect[name].append(1000 * recognizer.last_latency["detect"])
                labels[name].append(faces[0].label if faces else None)
                changes[name] += [
                    [frame.index, e["from"], e["to"]] for e in recognizer.last_events if e["event"] == "change"
                ]
    finally:
        source.close()
    base = labels[SETTINGS[0][0]]
    result = {}
    for name, recognizer in recognizers.items():
        search = recognizer.search
        result[name] = {
            "frames_with_a_face": sum(label is not None for label in labels[name]),
            "same_label_as_every_frame_pct": round(
                100 * float(np.mean([a == b for a, b in zip(labels[name], base, strict=True)])), 2
            ),
            "changes": changes[name],
            "detect_ms_median": round(float(np.median(detect[name])), 3),
            "full_search_share": round(search.full_searches / search.frames, 4)
            if isinstance(search, RegionSearch)
            else 1.0,
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=shipped_model())
    parser.add_argument("--sequences", type=int, default=4, help="sequences of each kind")
    parser.add_argument("--frames", type=int, default=120, help="frames a sequence")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--crop-faces", type=int, default=2000, help="placed faces for the crop comparison")
    args = parser.parse_args()
    cv2.setNumThreads(2)
    test = load_faces(fer_csv(), "PrivateTest")
    rng = np.random.default_rng(args.seed)
    pictures = backgrounds()
    sequences = [sequence(kind, rng, args.frames, len(test), pictures) for kind in KINDS for _ in range(args.sequences)]
    tallies = {name: Tally() for name, _ in SETTINGS}
    searches = {}
    started = time.perf_counter()
    for key, seq in enumerate(sequences):
        recognizers = {name: EmotionRecognizer(args.model, track=True, regions=regions) for name, regions in SETTINGS}
        names = recognizers[SETTINGS[0][0]].class_names
        labels = [int(test.labels[face]) for face in seq["faces"]]
        for index in range(args.frames):
            frame, truths = render(seq, index, test.images, pictures)
            for name, recognizer in recognizers.items():
                faces = recognizer.predict(frame, index / FPS)
                tallies[name].add(recognizer, faces, truths, labels, (key, index), names)
        for name, recognizer in recognizers.items():  # counts summed over the sequences
            total = searches.setdefault(name, {"frames": 0, "full_searches": 0, "windows": 0})
            if isinstance(recognizer.search, RegionSearch):
                for field in total:
                    total[field] += getattr(recognizer.search, field)
    settings = dict(SETTINGS)
    figures: dict = {
        "model": str(args.model), "data": "FER2013 PrivateTest", "frame": f"{WIDTH}x{HEIGHT}", "fps": FPS,
        "sequences": {kind: args.sequences for kind in KINDS}, "frames_per_sequence": args.frames,
        "seconds": round(time.perf_counter() - started, 1), "settings": {},
        "pi4_us_per_pixel": round(PI4_US_PER_PIXEL, 4),
        "note": "timings interleaved frame by frame, so other load falls on every setting alike: compare ratios",
    }  # fmt: skip
    for name, tally in tallies.items():
        entry = tally.figures(searches[name] if searches[name]["frames"] else None)
        regions = settings[name]
        entry["settings"] = None if regions is None else as_json(replace(regions, full_width=full_width(regions)))
        figures["settings"][name] = entry
    # Accuracy where every setting found the face: whether following faces in windows changes what they read as.
    common = set.intersection(*(set(tally.outcomes) for tally in tallies.values()))
    figures["faces_every_setting_found"] = len(common)
    for name, tally in tallies.items():
        figures["settings"][name]["accuracy_where_all_found_pct"] = round(
            100 * float(np.mean([tally.outcomes[k] for k in common])), 2
        )
    here_320 = figures["settings"]["every_frame_320"]["detect_ms_median"]
    for name, entry in figures["settings"].items():
        entry |= pi4_estimate(entry, settings[name], here_320, (WIDTH, HEIGHT))
    base = figures["settings"]["every_frame_320"]
    for entry in figures["settings"].values():
        entry["frame_ms_vs_every_frame"] = round(entry["frame_ms_mean"] / base["frame_ms_mean"], 3)
        entry["one_face_frame_ms_vs_every_frame"] = round(
            entry["one_face_frame_ms_mean"] / base["one_face_frame_ms_mean"], 3
        )
        entry["detect_ms_vs_every_frame"] = round(entry["detect_ms_mean"] / base["detect_ms_mean"], 3)
    figures["crops"] = window_crops(args.model, test, pictures, args.crop_faces, args.seed)
    if REAL_CLIP.is_file():
        figures["real_clip"] = {"clip": REAL_CLIP.name, **real_clip(args.model)}
    save("stream_tracking", figures)
    print(
        f"\n{'setting':20} {'detect':>7} {'frame':>7} {'x today':>8} {'1 face x':>9} {'found %':>8} {'80-120 %':>9} "
        f"{'acc %':>6} {'all %':>6} {'ids':>4} {'false':>6} {'full %':>7} {'Pi4 ms':>7} {'Pi4 FPS':>8}"
    )
    for name, e in figures["settings"].items():
        print(
            f"{name:20} {e['detect_ms_mean']:7.2f} {e['frame_ms_mean']:7.2f} {e['frame_ms_vs_every_frame']:8.3f} "
            f"{e['one_face_frame_ms_vs_every_frame']:9.3f} {e['found_pct']:8.2f} {e['found_80_120_px_pct']:9.2f} "
            f"{e['pipeline_accuracy_pct']:6.2f} {e['accuracy_where_all_found_pct']:6.2f} "
            f"{e['id_switches']:4d} {e['false_faces']:6d} "
            f"{100 * e['full_search_share']:7.2f} {e['pi4_frame_ms']:7.2f} {e['pi4_compute_fps']:8.1f}"
        )
    print("crops:", figures["crops"])
    for name, e in figures.get("real_clip", {}).items():
        if name == "clip":
            continue
        print(
            f"real clip {name:20} face on {e['frames_with_a_face']} frames, "
            f"same label {e['same_label_as_every_frame_pct']} %, full {100 * e['full_search_share']:.1f} %, "
            f"changes {e['changes']}"
        )


if __name__ == "__main__":
    main()
