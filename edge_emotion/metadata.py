"""What travels with a .tflite model: a sidecar JSON of the same stem (model.tflite -> model.json).

The converter writes it; the device side reads the class names and input contract from it
instead of hard-coding them, and refuses a model whose tensors do not match what it says
(``device.engine.classifier.check_contract``). The record fields (where the model came from, its
conversion check, versions, the measured ``card``) are read by ``convert``'s report and
``edge-emotion models``.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from edge_emotion.atomic import write_json
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.labels import CLASS_NAMES
from edge_emotion.preprocess import INPUT_SIZE, PIXEL_SCALE

MAX_LOW_PASS_SIGMA = 3.0  # pixels: more blurs a 48x48 face past its features (train --low-pass allows 0..3)


GREY = "grey"


@dataclass(frozen=True)
class ModelMetadata:
    """A .tflite model's contract (checked by the device against the model's tensors) and its record."""

    class_names: list[str] = field(default_factory=lambda: list(CLASS_NAMES))
    input_size: int = INPUT_SIZE
    color: str = GREY  # the only colour preprocessing makes
    pixel_scale: float = PIXEL_SCALE  # the only scale preprocessing applies
    low_pass_sigma: float = 0.0  # Gaussian blur (pixels) the model's inputs get: the sharpness it learned
    quantization: str = ""  # int8, float16 or float32 as converted ("" when unknown: a sidecar without it)
    # The input and output tensors' {"scale", "zero_point"} (empty for a float tensor, or when unknown).
    input_quantization: dict[str, float] = field(default_factory=dict)
    output_quantization: dict[str, float] = field(default_factory=dict)
    # The record: what the model came from, convert's check, what made it (versions and UTC time,
    # ISO 8601) and its measured figures (written by benchmarks/model_card.py, listed by `edge-emotion models`).
    source: dict[str, Any] = field(default_factory=dict)
    check: dict[str, Any] = field(default_factory=dict)
    edge_emotion_version: str = ""
    tensorflow_version: str = ""
    converted_at: str = ""
    card: dict[str, Any] = field(default_factory=dict)


def sidecar_path(model: Path) -> Path:
    """Where a model's metadata lives: beside it, same stem, .json; the one place that says so."""
    return model.with_suffix(".json")


def write_metadata(model: Path, metadata: ModelMetadata) -> None:
    write_json(sidecar_path(model), asdict(metadata))


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value has the type a ModelMetadata field declares (list[str], int, float, dict...)."""
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    origin = get_origin(hint) or hint
    if not isinstance(value, origin):
        return False
    return origin is not list or all(isinstance(item, get_args(hint)[0]) for item in value)


KINDS = {int: "an integer", float: "a number", str: "a string", dict: "a JSON object", list: "a list"}


def _describe(hint: Any) -> str:
    origin = get_origin(hint) or hint
    return KINDS[origin] + (f" of {get_args(hint)[0].__name__} values" if origin is list else "")


def read_metadata(model: Path) -> ModelMetadata | None:
    """The model's metadata, or None when it has no sidecar (a model converted elsewhere).

    Every known field is type-checked, so a hand-edited sidecar fails here with its name
    instead of deep in the device loop (``class_names`` as a string would name 7 letters).
    """
    path = sidecar_path(model)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise EdgeEmotionError(f"{path}: unreadable model metadata ({error})") from None
    if not isinstance(data, dict):
        raise EdgeEmotionError(f"{path}: model metadata must be a JSON object, not a {type(data).__name__}")
    hints = get_type_hints(ModelMetadata)
    known = {key: value for key, value in data.items() if key in hints}
    for key, value in known.items():
        if not _fits(value, hints[key]):
            raise EdgeEmotionError(f"{path}: {key} must be {_describe(hints[key])}, not {json.dumps(value)[:60]}")
    return ModelMetadata(**known)
