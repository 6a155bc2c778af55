"""One answer to "the model named here", the device's half: a shipped name (fast, accurate) or a path,
to the .tflite model it names and the classifier that runs it.

shipped name -> path (``shipped.model_path``) -> a .tflite model (``tflite_model``: a Keras model
is refused with the command that converts it) -> the device's ``Classifier``, its sidecar's
contract checked (``load_classifier``). ``run --model`` and ``EmotionRecognizer(model=...)`` name
their models through here. Imports nothing from ``training`` or ``convert``: the workstation's
half, ``edge_emotion.training.resolve``, adds the Keras kinds (a run or member folder, a .keras
file) and ``load_model``.
"""

from pathlib import Path
from typing import Any

from edge_emotion.device.engine.classifier import Classifier
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.shipped import model_path


def tflite_model(model: str | Path | None) -> Path:
    """The .tflite model ``model`` names (None: the fast shipped model), for the device; a Keras model is refused
    with the command that converts it."""
    path = model_path(model)
    if path.is_dir() or path.suffix == ".keras":
        raise EdgeEmotionError(
            f"{path} is a Keras model (a run or member folder, or a .keras file); the device runs a .tflite "
            f"model: convert it first: edge-emotion convert {path} --int8"
        )
    if not path.is_file():
        raise EdgeEmotionError(f"model not found: {path}")
    return path


def load_classifier(model: str | Path | None, **options: Any) -> Classifier:
    """The device's classifier for the model ``model`` names, its sidecar's contract checked; ``options`` are
    ``Classifier``'s (threads, edgetpu, mirror, ...)."""
    return Classifier(tflite_model(model), **options)
