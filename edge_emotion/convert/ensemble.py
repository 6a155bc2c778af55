"""Several trained models as one graph that averages their probabilities: one interpreter call per batch.

Members run side by side on the same input and meet in one mean, so the int8 ensemble
is plain CONV_2D / MAX_POOL_2D / MEAN / FULLY_CONNECTED / SOFTMAX / ADD / MUL, all of
which the Edge TPU maps, and the device loop treats it like any single model.
"""

from collections.abc import Sequence
from typing import Any

from edge_emotion.errors import EdgeEmotionError
from edge_emotion.training.tf_import import import_keras


def combine(models: Sequence[Any], origins: Sequence[dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """One Keras model averaging ``models``' probabilities, and its origin (each member's, and the shared sigma).

    Members must take the same input, name the same classes and see faces equally sharp.
    """
    if len(models) < 2:
        raise EdgeEmotionError("an ensemble needs at least two models")
    shapes = {tuple(m.input_shape[1:]) for m in models}
    classes = {int(m.output_shape[-1]) for m in models}
    sigmas = {float(o.get("low_pass", 0.0)) for o in origins}
    for what, values in (("inputs", shapes), ("classes", classes), ("low_pass sigmas", sigmas)):
        if len(values) > 1:
            raise EdgeEmotionError(f"ensemble members differ in their {what}: {sorted(values)}")
    keras = import_keras()
    inputs = keras.Input(shapes.pop())
    for index, member in enumerate(models):  # a graph needs unique names: the members become member0, …
        member.name = f"member{index}"
    outputs = [member(inputs) for member in models]
    model = keras.Model(inputs, keras.layers.Average(name="mean")(outputs), name="ensemble")
    return model, {"low_pass": sigmas.pop(), "members": list(origins)}
