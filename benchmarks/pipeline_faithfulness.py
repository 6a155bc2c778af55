"""How much detection and cropping cost the classifier: FER2013 PrivateTest faces placed into
640x480 frames, then through the whole recognizer, against the same faces as plain 48x48 crops.

Each sampled face is scaled to 80-240 px, turned in-plane by up to +-20 degrees (on top of
FER2013's own tilted heads) and put at a random place on a random window of one of
scikit-image's face-free pictures (a single resampling, as a camera images a face). Every
detector setting sees the same frames, in one run. A placed face counts as found when a
detection's centre lies within 0.35 of its size from the face's centre and its width is 0.4-1.6
times the face's; pipeline accuracy counts a missed face as wrong. The real files of
../shared/data/clips are counted too: faces in multi_face.jpg (five people), frames with a face
in no_face.mp4 (none).

    python benchmarks/pipeline_faithfulness.py [--faces 1200]

To choose between candidate models, place PublicTest faces instead (PrivateTest is scored once,
for the shipped model) and save under another name, e.g.
``--model cand.tflite --split PublicTest --setting yunet_photo --name faithfulness_cand``.

Camera conditions on the whole frame (``--condition noise/medium``, repeatable; the families of
``corruptions.FRAME_FAMILIES``): each frame is corrupted after the face is placed, so detection,
alignment and classification meet it together; blur sizes are in frame pixels, twice those of a
48x48 face. Each condition is reported against the same faces as plain crops, clean and under the
same corruption at the face's own 48x48 size. Accuracy is scored against FER2013's labels and the
FER+ majority (``--ferplus``).
"""

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from common import CLIPS, SHARED_FER, fer_csv, save
from skimage import data as skimage_data

from edge_emotion.device.engine.recognizer import EmotionRecognizer, Face
from edge_emotion.device.engine.settings import DetectorSettings
from edge_emotion.device.io.sources import open_video
from edge_emotion.preprocess import scale
from edge_emotion.shipped import shipped_model
from edge_emotion.training.corruptions import FAMILIES, FRAME_FAMILIES, SEVERITIES, check_corruption, corrupt
from edge_emotion.training.data import load_faces

BACKGROUNDS = (
    "coffee", "rocket", "brick", "grass", "gravel", "hubble_deep_field", "moon",
    "immunohistochemistry", "coins", "clock", "cell",
)  # fmt: skip
# (name, detector settings): the defaults first (photos: what run --image and --dir do;
# stream: camera and video), then other widths, scores and turns, to choose the defaults by.
SETTINGS = (
    ("yunet_photo", DetectorSettings(photos=True)), ("yunet_stream_320", DetectorSettings()),
    ("haar_stream_320", DetectorSettings("haar")),
    ("yunet_160", DetectorSettings(detect_width=160)), ("yunet_480", DetectorSettings(detect_width=480)),
    ("yunet_640", DetectorSettings(detect_width=640)),
    ("yunet_320_score_0.5", DetectorSettings(min_score=0.5)),
    ("yunet_640_score_0.5", DetectorSettings(detect_width=640, min_score=0.5)),
    ("yunet_320_tilt_25", DetectorSettings(tilt=25)), ("yunet_photo_tilt_40", DetectorSettings(tilt=40, photos=True)),
    ("yunet_photo_score_0.6", DetectorSettings(min_score=0.6, photos=True)),
)  # fmt: skip
WIDTH, HEIGHT = 640, 480
FRAME_SCALE = 2.0  # a camera condition's blur in frame pixels, per pixel of a 48x48 face's


def backgrounds() -> list[np.ndarray]:
    """Face-free BGR pictures at least 640x480."""
    pictures = []
    for name in BACKGROUNDS:
        image = getattr(skimage_data, name)()
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        zoom = max(WIDTH / image.shape[1], HEIGHT / image.shape[0], 1.0)
        pictures.append(cv2.resize(image, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC))
    return pictures


def layout(pictures: list[np.ndarray], rng: np.random.Generator) -> dict:
    """Where a face goes: background window, mirror, size, angle and centre."""
    picture = int(rng.integers(len(pictures)))
    height, width = pictures[picture].shape[:2]
    top, left, mirror = int(rng.integers(height - HEIGHT + 1)), int(rng.integers(width - WIDTH + 1)), rng.random() < 0.5
    size, angle = rng.uniform(80, 240), rng.uniform(-20, 20)
    reach = size / 2 * (abs(np.cos(np.radians(angle))) + abs(np.sin(np.radians(angle))))
    centre = (rng.uniform(reach, WIDTH - reach), rng.uniform(reach, HEIGHT - reach))
    return {
        "picture": picture,
        "top": top,
        "left": left,
        "mirror": mirror,
        "size": size,
        "angle": angle,
        "centre": centre,
    }


def render(face: np.ndarray, where: dict, pictures: list[np.ndarray]) -> np.ndarray:
    """The 640x480 frame with ``face`` scaled, turned and placed as ``where`` says."""
    frame = pictures[where["picture"]][where["top"] : where["top"] + HEIGHT, where["left"] : where["left"] + WIDTH]
    frame = (frame[:, ::-1] if where["mirror"] else frame).copy()
    matrix = cv2.getRotationMatrix2D((23.5, 23.5), where["angle"], where["size"] / 48)
    matrix[:, 2] += np.array(where["centre"]) - (23.5, 23.5)
    cv2.warpAffine(
        cv2.cvtColor(face, cv2.COLOR_GRAY2BGR), matrix, (WIDTH, HEIGHT), dst=frame,
        flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_TRANSPARENT,
    )  # fmt: skip
    return frame


def match(faces: list[Face], truth: dict) -> Face | None:
    """The most certain detection of the placed face, if any."""
    for face in faces:
        x, y, w, h = face.box
        off = np.hypot(x + w / 2 - truth["centre"][0], y + h / 2 - truth["centre"][1])
        if off < 0.35 * truth["size"] and 0.4 < w / truth["size"] < 1.6:
            return face
    return None


def share(mask: np.ndarray) -> float:
    return round(100 * float(np.mean(mask)), 2) if len(mask) else float("nan")


def scores(found: np.ndarray, right: np.ndarray, plain_right: np.ndarray, mask: np.ndarray) -> dict:
    """Found and accuracy (%) through the pipeline and as plain crops, on a group of faces."""
    if not mask.any():
        return {"faces": 0}
    return {
        "faces": int(mask.sum()), "found": share(found[mask]),
        "pipeline_accuracy": share(right[mask]), "plain_accuracy": share(plain_right[mask]),
        "accuracy_on_found": share(right[mask & found]), "plain_accuracy_on_found": share(plain_right[mask & found]),
    }  # fmt: skip


def condition_frame(frame: np.ndarray, condition: str | None, seed: int) -> np.ndarray:
    """The frame under ``condition`` ("family/severity"), seeded; as it is without one."""
    if condition is None:
        return frame
    family, severity = condition.split("/")
    rng = np.random.default_rng(seed)
    return FAMILIES[family](frame, SEVERITIES[severity], rng, FRAME_SCALE)


def run_setting(
    recognizer: EmotionRecognizer,
    images: np.ndarray,
    truths: list[dict],
    pictures: list[np.ndarray],
    condition: str | None = None,
) -> dict:
    """Found, predicted label (-1: missed), false detections and detection time for every face."""
    names = recognizer.class_names
    predicted, false, detect_ms = [], 0, []
    for index, (image, truth) in enumerate(zip(images, truths, strict=True)):
        faces = recognizer.predict(condition_frame(render(image, truth, pictures), condition, index))
        detect_ms.append(1000 * recognizer.last_latency["detect"])
        face = match(faces, truth)
        predicted.append(-1 if face is None else names.index(face.label))
        false += len(faces) - (face is not None)
    return {"predicted": np.array(predicted), "false_detections": false, "detect_ms": float(np.median(detect_ms))}


def real_files(recognizer: EmotionRecognizer) -> dict:
    """Faces in multi_face.jpg and frames with a face in no_face.mp4, where ../shared has them."""
    if not CLIPS.is_dir():
        return {}
    group = len(recognizer.predict(cv2.imread(str(CLIPS / "multi_face.jpg"))))
    source = open_video(CLIPS / "no_face.mp4")
    try:
        counts = [len(recognizer.predict(frame.image)) for frame in source.frames()]
    finally:
        source.close()
    return {"multi_face_jpg_faces": group, "no_face_mp4_frames_with_a_face": sum(c > 0 for c in counts)}


def run_condition(
    args: argparse.Namespace, condition: str, images: np.ndarray, labels: np.ndarray, human: np.ndarray | None,
    truths: list[dict], pictures: list[np.ndarray], plain_predicted: np.ndarray, classifier: object,
) -> dict:  # fmt: skip
    """One camera condition through the chosen settings (default: the photo and stream defaults)."""
    family, severity = condition.split("/")
    corrupted = classifier.predict(scale(corrupt(images, family, severity, seed=args.seed))).argmax(1)
    rows = {}
    for name, options in SETTINGS:
        if name not in (args.setting or ["yunet_photo", "yunet_stream_320"]):
            continue
        predicted = run_setting(EmotionRecognizer(args.model, detector=options), images, truths, pictures, condition)
        found = predicted["predicted"] >= 0
        row = {
            "found": share(found),
            "pipeline_accuracy": share(predicted["predicted"] == labels),
            "plain_accuracy": share(plain_predicted == labels),
            "plain_corrupted_accuracy": share(corrupted == labels),
            "false_detections": predicted["false_detections"],
        }
        if human is not None:
            kept = human >= 0
            row |= {
                "pipeline_accuracy_ferplus": share(predicted["predicted"][kept] == human[kept]),
                "plain_accuracy_ferplus": share(plain_predicted[kept] == human[kept]),
                "plain_corrupted_accuracy_ferplus": share(corrupted[kept] == human[kept]),
            }
        rows[name] = row
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=shipped_model())
    parser.add_argument("--faces", type=int, default=1200, help="faces of --split to place")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", choices=("PrivateTest", "PublicTest"), default="PrivateTest")
    parser.add_argument("--setting", action="append", choices=[name for name, _ in SETTINGS], help="default: all")
    parser.add_argument("--name", default="pipeline_faithfulness", help="results file name")
    parser.add_argument(
        "--condition",
        action="append",
        default=[],
        help=f"FAMILY/SEVERITY on whole frames ({', '.join(FRAME_FAMILIES)})",
    )
    parser.add_argument("--ferplus", type=Path, default=SHARED_FER / "fer2013new.csv")
    args = parser.parse_args()
    for condition in args.condition:
        family, _, severity = condition.partition("/")
        if family not in FRAME_FAMILIES:
            raise SystemExit(f"error: --condition {condition}: a frame condition is one of {', '.join(FRAME_FAMILIES)}")
        check_corruption(family, severity)
    test = load_faces(fer_csv(), args.split, args.ferplus if args.ferplus.is_file() else None)
    rng = np.random.default_rng(args.seed)
    sample = rng.choice(len(test), min(args.faces, len(test)), replace=False)
    images, labels = test.images[sample], test.labels[sample]
    human = None if test.human is None else test.human[sample]
    pictures = backgrounds()
    truths = [layout(pictures, rng) for _ in images]
    angles = np.abs([t["angle"] for t in truths])
    sizes = np.array([t["size"] for t in truths])
    classifier = EmotionRecognizer(args.model).classifier
    plain_predicted = classifier.predict(scale(images)).argmax(1)
    plain_right = plain_predicted == labels
    groups = {
        "all": np.ones(len(labels), bool), "rotation_0_10": angles <= 10, "rotation_10_20": angles > 10,
        "size_80_120": sizes < 120, "size_120_180": (sizes >= 120) & (sizes < 180), "size_180_240": sizes >= 180,
    }  # fmt: skip
    figures: dict = {
        "model": str(args.model), "data": f"FER2013 {args.split}", "faces": len(labels), "seed": args.seed,
        "frame": f"{WIDTH}x{HEIGHT}", "face_size_px": [80, 240], "rotation_degrees": [-20, 20],
        "plain_crop_accuracy": share(plain_right), "settings": {},
    }  # fmt: skip
    if human is not None:
        figures["ferplus_faces"] = int((human >= 0).sum())
        figures["plain_crop_accuracy_ferplus"] = share(plain_predicted[human >= 0] == human[human >= 0])
    for condition in args.condition:
        figures.setdefault("conditions", {})[condition] = run_condition(
            args, condition, images, labels, human, truths, pictures, plain_predicted, classifier
        )
    for name, options in SETTINGS:
        if (args.setting and name not in args.setting) or args.condition:
            continue
        recognizer = EmotionRecognizer(args.model, detector=options)
        detector = recognizer.detector
        started = time.perf_counter()
        result = run_setting(recognizer, images, truths, pictures)
        found, right = result["predicted"] >= 0, result["predicted"] == labels
        figures["settings"][name] = {
            "detector": options.name, "detect_width": round(detector.ratio(WIDTH) * WIDTH),
            "tilt": detector.tilt, "min_score": detector.min_score,
            "seconds": round(time.perf_counter() - started, 1), "detect_ms_median": round(result["detect_ms"], 2),
            "false_detections": result["false_detections"],
            **{group: scores(found, right, plain_right, mask) for group, mask in groups.items()},
            **real_files(recognizer),
        }  # fmt: skip
    save(args.name, figures)
    for condition, entry in figures.get("conditions", {}).items():
        for name, row in entry.items():
            print(
                f"{condition:20} {name:18} found {row['found']:6.2f} %  pipeline {row['pipeline_accuracy']:6.2f} %  "
                f"plain clean {row['plain_accuracy']:6.2f} %  plain corrupted {row['plain_corrupted_accuracy']:6.2f} %"
                + (f"  | FER+ {row['pipeline_accuracy_ferplus']:6.2f} / {row['plain_accuracy_ferplus']:6.2f} %"
                   if "pipeline_accuracy_ferplus" in row else "")
            )  # fmt: skip
    if args.condition:
        return
    print(f"\nplain 48x48 crops: {figures['plain_crop_accuracy']:.2f} % on {len(labels)} faces")
    print(f"{'setting':20} {'found %':>8} {'pipeline %':>11} {'gap':>6} {'on found %':>11} {'false':>6} {'ms':>6}")
    for name, entry in figures["settings"].items():
        overall = entry["all"]
        print(
            f"{name:20} {overall['found']:8.2f} {overall['pipeline_accuracy']:11.2f} "
            f"{overall['pipeline_accuracy'] - figures['plain_crop_accuracy']:6.2f} "
            f"{overall['accuracy_on_found']:11.2f} {entry['false_detections']:6d} {entry['detect_ms_median']:6.2f}"
        )


if __name__ == "__main__":
    main()
