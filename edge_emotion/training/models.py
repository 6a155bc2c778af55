"""Model architectures by name: ``build_model("seed")``; a new one is a decorated function; and a Keras
model's predictions, fed as its run trained it (``predict_keras``).

Every model takes (48, 48, 1) inputs scaled to 0..1 and ends in a softmax over the seven
classes. The VGG family uses only ops that quantise to int8 and map to the Edge TPU
(CONV_2D, MAX_POOL_2D, MEAN, FULLY_CONNECTED, RELU, SOFTMAX).
"""

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from edge_emotion.device.engine.classifier import mirror_averaged
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.labels import NUM_CLASSES
from edge_emotion.preprocess import INPUT_SHAPE, model_inputs
from edge_emotion.training.data import FaceSet
from edge_emotion.training.tf_import import import_keras

_REGISTRY: dict[str, Callable[[], Any]] = {}


def register(name: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    def add(builder: Callable[[], Any]) -> Callable[[], Any]:
        _REGISTRY[name] = builder
        return builder

    return add


def available() -> list[str]:
    return sorted(_REGISTRY)


def check_arch(name: str) -> None:
    """An error naming the architectures there are, unless ``name`` is one."""
    if name not in _REGISTRY:
        raise EdgeEmotionError(f"unknown architecture {name!r}; choose one of: {', '.join(available())}")


def build_model(name: str) -> Any:
    """A fresh, uncompiled keras.Model for the architecture ``name``."""
    check_arch(name)
    return _REGISTRY[name]()


def build_float32(name: str) -> Any:
    """The architecture ``name`` in float32, whatever precision its weights trained in: a trained model's
    weights are loaded into it to predict, convert or warm-start, so a mixed bfloat16 run comes back as a
    plain float32 graph."""
    import_keras().mixed_precision.set_global_policy("float32")
    return build_model(name)


def check_input(model: Any, where: str | Path) -> None:
    """A Keras model of another input (a 64x64 or colour one) fails in one line, not deep in predict or convert."""
    shape = model.input_shape  # (None, rows, columns, channels); a list for a model of several inputs
    if not isinstance(shape, tuple) or shape[1:] != INPUT_SHAPE:
        size = "x".join(str(d) for d in INPUT_SHAPE)
        raise EdgeEmotionError(f"{where}: takes inputs of {shape}; every model here takes {size} grey faces")


def set_weights(model: Any, weights: list[np.ndarray], source: Path) -> None:
    """Load ``weights`` into ``model``; one clear error when their shapes do not fit."""
    expected = [tuple(w.shape) for w in model.get_weights()]
    if [tuple(w.shape) for w in weights] != expected:
        raise EdgeEmotionError(f"{source}: its weights do not fit architecture {model.name!r}")
    model.set_weights(weights)


def predict_keras(model: Any, faces: FaceSet, *, mirror: bool = False, low_pass_sigma: float = 0.0) -> np.ndarray:
    """Probabilities from a Keras model fed as it was trained: ``low_pass_sigma`` is its run's ``low_pass``."""

    def predict(inputs: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict(inputs, batch_size=256, verbose=0))

    inputs = model_inputs(faces.images, low_pass_sigma)
    return mirror_averaged(predict, inputs) if mirror else predict(inputs)


@register("seed")
def seed_cnn() -> Any:
    """The classic FER2013 recipe: conv + max-pool + dropout blocks and a dense head."""
    keras = import_keras()
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            layers.Conv2D(32, 3, activation="relu"),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(0.25),
            layers.Conv2D(128, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(128, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(1024, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32"),
        ],
        name="seed",
    )


def vgg(width: int, dropout: float = 0.4) -> Any:
    """Four VGG blocks (two 3x3 conv + batch norm + ReLU, then max-pool), global average pooling.

    Channels double per block (width, 2w, 4w, 8w); batch norm folds into the convolutions
    when converted, so the int8 model is plain CONV_2D + RELU.
    """
    keras = import_keras()
    layers = keras.layers
    stack = [keras.Input(INPUT_SHAPE)]
    for block in range(4):
        for _ in range(2):
            stack += [
                layers.Conv2D(width * 2**block, 3, padding="same", use_bias=False),
                layers.BatchNormalization(),
                layers.ReLU(),
            ]
        stack.append(layers.MaxPooling2D(2))
    stack += [
        layers.GlobalAveragePooling2D(),
        layers.Dropout(dropout),
        layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32"),
    ]
    return keras.Sequential(stack, name=f"vgg{width}")


for _width in (16, 20, 24, 32):
    register(f"vgg{_width}")(partial(vgg, _width))
