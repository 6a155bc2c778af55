"""One answer to "the model at this path": a run folder, a member folder, a .keras file or a .tflite model.

``evaluate``, ``convert``, distillation teachers, ``train --init-from`` and the benchmarks all
name a model by its path and get it from ``load_model``. A Keras model is fed as its run trained
it (its ``low_pass``); a .tflite model runs in the device's own interpreter, so what is scored is
what the device runs. TensorFlow is imported only for a Keras model.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_emotion.data import FaceSet
from edge_emotion.device.classifier import Classifier, mirror_averaged
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.preprocess import model_inputs, scale

KERAS_KINDS = ("run", "member", "keras")


def model_kind(path: Path) -> str:
    """``run``, ``member``, ``keras`` or ``tflite``; an error saying what a model can be when ``path`` is none."""
    from edge_emotion.training.members import is_member

    if not path.exists():
        raise EdgeEmotionError(f"model not found: {path}")
    if path.is_dir():
        return "member" if is_member(path) else "run"
    if path.suffix in (".keras", ".tflite"):
        return path.suffix[1:]
    raise EdgeEmotionError(f"{path}: not a model; give a run folder, a member folder, a .keras file or a .tflite model")


def predict_keras(model: Any, faces: FaceSet, *, mirror: bool = False, low_pass_sigma: float = 0.0) -> np.ndarray:
    """Probabilities from a Keras model fed as it was trained: ``low_pass_sigma`` is its run's ``low_pass``."""

    def predict(inputs: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict(inputs, batch_size=256, verbose=0))

    inputs = model_inputs(faces.images, low_pass_sigma)
    return mirror_averaged(predict, inputs) if mirror else predict(inputs)


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to predict: a float ``keras.Model`` (run, member, .keras) or the device's ``Classifier``
    (.tflite); ``config`` holds a run's or member's training flags."""

    path: Path
    kind: str
    model: Any
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def low_pass(self) -> float:
        """The Gaussian blur (sigma, pixels) the model's inputs get; a .tflite model applies its own."""
        return float(self.config.get("low_pass", 0.0))

    @property
    def origin(self) -> dict[str, Any]:
        """What a model converted from this one records as its source."""
        return {"run": str(self.path), **self.config} if self.kind in ("run", "member") else {"model": str(self.path)}

    def predict(self, faces: FaceSet, *, mirror: bool = False) -> np.ndarray:
        """Class probabilities (N, classes) for ``faces``; ``mirror`` averages each with its mirror image."""
        if self.kind != "tflite":
            return predict_keras(self.model, faces, mirror=mirror, low_pass_sigma=self.low_pass)
        inputs = scale(faces.images)
        return mirror_averaged(self.model.predict, inputs) if mirror else self.model.predict(inputs)


def load_model(path: Path, *, keras: bool = False, threads: int = 2) -> LoadedModel:
    """The model at ``path``, ready to predict.

    ``keras=True`` asks for the float Keras model (to convert it or start from its weights) and
    refuses a .tflite file. A run gives its best-on-validation epoch; a run or member comes back
    in float32, whatever precision it trained in. ``threads`` runs a .tflite model.
    """
    kind = model_kind(path)
    if kind == "tflite":
        if keras:
            raise EdgeEmotionError(
                f"{path} is already a TFLite model; give the run folder, member folder or .keras file it came from"
            )
        return LoadedModel(path, kind, Classifier(path, threads=threads))
    if kind == "member":
        from edge_emotion.training.members import load_member

        return LoadedModel(path, kind, *load_member(path))
    if kind == "run":
        from edge_emotion.training.run_folder import load_best_model

        return LoadedModel(path, kind, *load_best_model(path))
    from edge_emotion.tf_import import import_keras
    from edge_emotion.training.run_folder import reading

    with reading(path, "not a Keras model: give a run folder or a .keras file that Keras saved"):
        return LoadedModel(path, kind, import_keras().models.load_model(path))
