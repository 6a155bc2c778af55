"""How sharp the faces a model learns from are, against the faces it is scored on; and what a low-pass buys.

    python benchmarks/sharpness.py [--model edge_emotion/models/emotion_int8.tflite] [--run RUN ...]

1. Sharpness (mean squared Laplacian) of 2,000 training faces as they are, blurred by a
   Gaussian of each sigma, and after each augmentation: Keras' chained RandomTranslation,
   RandomRotation, RandomZoom (the recipe before this change) and the one-pass Lanczos
   jitter of ``edge_emotion.training.augment``. Each augmentation's "matching sigma" is the
   blur that leaves faces equally sharp.
2. PublicTest accuracy of each model with its inputs low-passed by each sigma: the sigma
   that scores best on PublicTest is the one a model's metadata should carry. PrivateTest
   is not touched here.
3. Sharpness of real camera faces (../shared/data/clips: every 6th frame of the video, the
   group photo) found by YuNet and aligned by ``preprocess.align_face`` with each anti-alias
   strength, against FER2013's training faces as they are: the strength whose crops are as
   sharp as FER2013's is the one ``preprocess.ANTI_ALIAS`` should be.
"""

import argparse
import itertools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from common import CLIPS, fer_csv, save

from edge_emotion.device.engine.classifier import Classifier
from edge_emotion.metadata import ModelMetadata
from edge_emotion.metrics import score
from edge_emotion.preprocess import ANTI_ALIAS, align_face, low_pass, scale
from edge_emotion.training.augment import random_affine
from edge_emotion.training.data import load_splits

SIGMAS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)
ANTI_ALIASES = (0.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)


def sharpness(inputs: np.ndarray) -> float:
    """Mean squared Laplacian of faces in 0..255 (their 4-pixel border left out)."""
    faces = np.asarray(inputs, dtype=np.float32).reshape(-1, *inputs.shape[-3:-1]) * 255
    return float(np.mean([np.mean(cv2.Laplacian(face, cv2.CV_32F)[4:-4, 4:-4] ** 2) for face in faces]))


def keras_chained(inputs: np.ndarray) -> np.ndarray:
    """The earlier recipe's jitter: three Keras layers, three bilinear resamplings."""
    from edge_emotion.training.tf_import import import_keras

    layers = import_keras().layers
    chain = [
        layers.RandomTranslation(0.1, 0.1, fill_mode="nearest", seed=1),
        layers.RandomRotation(10 / 360, fill_mode="nearest", seed=2),
        layers.RandomZoom(0.1, fill_mode="nearest", seed=3),
    ]
    for layer in chain:
        inputs = layer(inputs, training=True)
    return np.asarray(inputs)


def real_faces() -> list[tuple[np.ndarray, tuple[int, int, int, int], np.ndarray | None]]:
    """(frame, box, landmarks) of every face YuNet finds in every 6th frame of the clip and in the group photo."""
    from edge_emotion.device.engine.detector import YuNetDetector

    detector = YuNetDetector()
    frames = [cv2.imread(str(CLIPS / "multi_face.jpg"))]
    video = cv2.VideoCapture(str(CLIPS / "WolfgangLanger_Pexels.mp4"))
    for index in itertools.count():
        ok, frame = video.read()
        if not ok:
            break
        if index % 6 == 0:
            frames.append(frame)
    video.release()
    return [(frame, face.box, face.landmarks) for frame in frames for face in detector.detect(frame)]


def matching_sigma(value: float, curve: dict[float, float]) -> float:
    """The blur sigma whose sharpness equals ``value``, interpolated on the measured curve."""
    sigmas, values = zip(*sorted(curve.items()), strict=True)
    return float(np.interp(-value, [-v for v in values], sigmas))


def accuracy_by_sigma(
    predict: Callable[[np.ndarray, float], np.ndarray], inputs: np.ndarray, labels: np.ndarray
) -> dict[str, float]:
    return {f"{s:.1f}": round(score(predict(inputs, s), labels).accuracy, 4) for s in SIGMAS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append", help=".tflite models (default: the shipped one)")
    parser.add_argument("--run", type=Path, action="append", default=[], help="training run folders")
    args = parser.parse_args()
    models = args.model or [Path(__file__).parents[1] / "edge_emotion/models/emotion_int8.tflite"]
    splits = load_splits(fer_csv(), ["Training", "PublicTest"])
    train = scale(splits["Training"].images[:2000])
    val = splits["PublicTest"]

    curve = {s: sharpness(low_pass(train, s)) for s in SIGMAS}
    augmented = {
        "keras_chained_bilinear": sharpness(keras_chained(train)),
        "one_pass_lanczos": sharpness(random_affine(train, np.random.default_rng(0))),
    }
    figures: dict = {
        "sharpness_by_sigma": {f"{s:.1f}": round(v, 1) for s, v in curve.items()},
        "augmentation": {
            name: {"sharpness": round(v, 1), "matching_sigma": round(matching_sigma(v, curve), 2)}
            for name, v in augmented.items()
        },
        "publictest_accuracy_by_sigma": {},
    }
    inputs = scale(val.images)
    for path in models:
        contract = Classifier(path).metadata

        def predict(x: np.ndarray, s: float, path: Path = path, contract: ModelMetadata = contract) -> np.ndarray:
            return Classifier(path, metadata=replace(contract, low_pass_sigma=s)).predict(x)

        figures["publictest_accuracy_by_sigma"][str(path)] = accuracy_by_sigma(predict, inputs, val.labels)
    for run in args.run:
        from edge_emotion.training.resolve import load_model

        loaded = load_model(run, keras=True)
        model, config = loaded.model, loaded.config

        def predict(x: np.ndarray, s: float, model: object = model) -> np.ndarray:
            return np.asarray(model.predict(low_pass(x, s), batch_size=256, verbose=0))  # type: ignore[attr-defined]

        key = f"{run} (trained with low_pass {config.low_pass if config else 0.0})"
        figures["publictest_accuracy_by_sigma"][key] = accuracy_by_sigma(predict, inputs, val.labels)
    if CLIPS.is_dir():
        faces = real_faces()
        fer = float(np.median([sharpness(face[None]) for face in train[:2000]]))
        by_strength = {
            k: float(np.median([sharpness(scale(align_face(*face, anti_alias=k))[None]) for face in faces]))
            for k in ANTI_ALIASES
        }
        figures["real_faces_aligned"] = {
            "faces": len(faces), "fer2013_training_median": round(fer, 1),
            "median_by_anti_alias": {f"{k:.2f}": round(v, 1) for k, v in by_strength.items()},
            "matching_anti_alias": round(matching_sigma(fer, by_strength), 3), "preprocess_anti_alias": ANTI_ALIAS,
        }  # fmt: skip
    save("sharpness", figures)


if __name__ == "__main__":
    main()
