"""One answer to "the model named here", the workstation's half: a shipped name (fast, accurate) or a path,
of one of four kinds.

shipped name -> path (``shipped.model_path``) -> kind (``model_kind``: a run folder, a member
folder, a .keras file or a .tflite model) -> a model ready to predict with its contract
(``load_model``). ``evaluate``, ``convert``, ``train --teacher`` and ``--init-from`` and the
benchmarks name their models through here; the device names its .tflite models through the
device half, ``edge_emotion.resolve``, which imports nothing from here. A Keras model is fed as
its run trained it (its ``low_pass``); a .tflite model runs in the device's own interpreter under
its sidecar's contract, so what is scored is what the device runs. TensorFlow is imported only
for a Keras model.
"""

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_emotion.atomic import reading
from edge_emotion.device.engine.classifier import Classifier, mirror_averaged
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.preprocess import scale
from edge_emotion.shipped import SHIPPED, model_path
from edge_emotion.training.config import TrainConfig, load_config
from edge_emotion.training.data import FaceSet
from edge_emotion.training.members import is_member, load_member
from edge_emotion.training.models import check_input, predict_keras
from edge_emotion.training.run_folder import RunFolder, load_best_model
from edge_emotion.training.tf_import import import_keras

TRAINED_KINDS = ("run", "member")  # the kinds that carry their run's flags (config.json)


def model_kind(path: Path) -> str:
    """``run``, ``member``, ``keras`` or ``tflite``; an error saying what a model can be when ``path`` is none."""
    if not path.exists():
        raise EdgeEmotionError(f"model not found: {path}")
    if path.is_dir():
        if is_member(path):
            return "member"
        RunFolder(path).check()
        return "run"
    if path.suffix in (".keras", ".tflite"):
        return path.suffix[1:]
    raise EdgeEmotionError(f"{path}: not a model; give a run folder, a member folder, a .keras file or a .tflite model")


def find_model(model: str | Path | None, *, keras: bool = False) -> tuple[Path, str]:
    """The path and kind of the model ``model`` names (None: the fast shipped model), checked to exist.

    ``keras=True`` asks for a float Keras model (to convert it or start from its weights) and
    refuses a .tflite model, a shipped one included, saying what to give instead.
    """
    path = model_path(model)
    kind = model_kind(path)
    if keras and kind == "tflite":
        shipped = f"{model} (the shipped model {path.name})" if isinstance(model, str) and model in SHIPPED else path
        raise EdgeEmotionError(
            f"{shipped} is already a TFLite model; give the run folder, member folder or .keras file it came from"
        )
    return path, kind


def trained_config(path: Path, kind: str) -> TrainConfig | None:
    """The flags a run or member trained with (its config.json), read without loading the model; else None."""
    return load_config(path / "config.json", allow_unknown=True) if kind in TRAINED_KINDS else None


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to predict: a float ``keras.Model`` (run, member, .keras) or the device's ``Classifier``
    (.tflite, its sidecar's contract checked); ``config`` holds a run's or member's training flags."""

    path: Path
    kind: str
    model: Any
    config: TrainConfig | None = None

    @property
    def low_pass(self) -> float:
        """The Gaussian blur (sigma, pixels) the model's inputs get; a .tflite model applies its own."""
        return self.config.low_pass if self.config else 0.0

    @property
    def class_names(self) -> list[str] | None:
        """The classes a .tflite model's contract names, in output order; None for a Keras model (FER2013's)."""
        return self.model.class_names if self.kind == "tflite" else None

    @property
    def origin(self) -> dict[str, Any]:
        """What a model converted from this one records as its source."""
        return {"run": str(self.path), **asdict(self.config)} if self.config else {"model": str(self.path)}

    def predict(self, faces: FaceSet, *, mirror: bool = False) -> np.ndarray:
        """Class probabilities (N, classes) for ``faces``; ``mirror`` averages each with its mirror image."""
        if self.kind != "tflite":
            return predict_keras(self.model, faces, mirror=mirror, low_pass_sigma=self.low_pass)
        inputs = scale(faces.images)
        return mirror_averaged(self.model.predict, inputs) if mirror else self.model.predict(inputs)


def load_model(model: str | Path, *, keras: bool = False, threads: int = 2) -> LoadedModel:
    """The model ``model`` names (a shipped name or a path), ready to predict.

    ``keras=True`` asks for the float Keras model (see ``find_model``). A run gives its
    best-on-validation epoch; a run or member comes back in float32, whatever precision it
    trained in. ``threads`` runs a .tflite model.
    """
    path, kind = find_model(model, keras=keras)
    if kind == "tflite":
        return LoadedModel(path, kind, Classifier(path, threads=threads))
    if kind == "member":
        return LoadedModel(path, kind, *load_member(path))
    if kind == "run":
        return LoadedModel(path, kind, *load_best_model(path))
    loader = import_keras().models
    with reading(path, "not a Keras model: give a run folder or a .keras file that Keras saved"):
        model = loader.load_model(path)
    check_input(model, path)
    return LoadedModel(path, kind, model)
