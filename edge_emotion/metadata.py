"""What travels with a .tflite model: a sidecar JSON of the same stem (model.tflite -> model.json).

The converter writes it; the device side reads the class names and input contract from
it instead of hard-coding them.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge_emotion.atomic import write_json
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.labels import CLASS_NAMES
from edge_emotion.preprocess import INPUT_SIZE, PIXEL_SCALE


@dataclass(frozen=True)
class ModelMetadata:
    class_names: list[str] = field(default_factory=lambda: list(CLASS_NAMES))
    input_size: int = INPUT_SIZE
    color: str = "grey"
    pixel_scale: float = PIXEL_SCALE
    low_pass_sigma: float = 0.0  # Gaussian blur (pixels) the model's inputs get: the sharpness it learned
    quantization: str = "float32"
    input_quantization: dict[str, float] = field(default_factory=dict)
    output_quantization: dict[str, float] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    check: dict[str, Any] = field(default_factory=dict)


def sidecar_path(model: Path) -> Path:
    return model.with_suffix(".json")


def write_metadata(model: Path, metadata: ModelMetadata) -> None:
    write_json(sidecar_path(model), asdict(metadata))


def read_metadata(model: Path) -> ModelMetadata | None:
    """The model's metadata, or None when it has no sidecar (a model converted elsewhere)."""
    path = sidecar_path(model)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        known = {k: v for k, v in data.items() if k in ModelMetadata.__dataclass_fields__}
        return ModelMetadata(**known)
    except (ValueError, TypeError) as error:
        raise EdgeEmotionError(f"{path}: unreadable model metadata ({error})") from None
