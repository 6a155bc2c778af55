"""Score a trained model (a run folder or a .tflite) on a split: metrics JSON and a confusion-matrix PNG."""

from pathlib import Path

import numpy as np

from edge_emotion.atomic import write_json
from edge_emotion.data import FaceSet, canonical_split
from edge_emotion.device.classifier import Classifier, mirror_averaged
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.labels import CLASS_NAMES
from edge_emotion.metrics import Scores
from edge_emotion.plots import plot_confusion
from edge_emotion.preprocess import model_inputs, scale


def predict_keras(model: object, faces: FaceSet, mirror: bool = False, low_pass_sigma: float = 0.0) -> np.ndarray:
    """Probabilities from a Keras model fed as it was trained: ``low_pass_sigma`` is its run's ``low_pass``."""

    def predict(inputs: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict(inputs, batch_size=256, verbose=0))  # type: ignore[attr-defined]

    inputs = model_inputs(faces.images, low_pass_sigma)
    return mirror_averaged(predict, inputs) if mirror else predict(inputs)


def predict_tflite(model: Path, faces: FaceSet, threads: int = 2, mirror: bool = False) -> np.ndarray:
    """Probabilities from the device-side interpreter: what is scored is what will run on the device."""
    return Classifier(model, threads=threads, mirror=mirror).predict(scale(faces.images))


def predict_model(model: Path, faces: FaceSet, mirror: bool = False) -> np.ndarray:
    """Probabilities from a run folder's best Keras model or from a .tflite file; ``mirror`` as the device does."""
    if model.is_dir():
        from edge_emotion.training.run_folder import load_best_model

        keras_model, config = load_best_model(model)
        return predict_keras(keras_model, faces, mirror, config.get("low_pass", 0.0))
    if model.suffix == ".tflite":
        return predict_tflite(model, faces, mirror=mirror)
    raise EdgeEmotionError(f"{model}: not a run folder or a .tflite model")


def default_report_dir(model: Path, split: str) -> Path:
    name = f"eval-{canonical_split(split)}"
    return model / name if model.is_dir() else model.with_name(f"{model.stem}-{name}")


def write_report(scores: Scores, faces: FaceSet, model: Path, out: Path) -> None:
    """metrics.json and confusion.png in ``out``."""
    write_json(
        out / "metrics.json",
        {"model": str(model), "data": faces.source, "faces": len(faces), **scores.as_dict()},
    )
    title = f"{model.name} on {faces.source.split(':')[-1]}: accuracy {scores.accuracy:.1%}"
    plot_confusion(scores.confusion, CLASS_NAMES, title, out / "confusion.png")
