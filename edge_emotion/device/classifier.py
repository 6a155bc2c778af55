"""Run the emotion model on face inputs: quantise in, invoke once per batch, dequantise out."""

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edge_emotion.device.interpreter import make_interpreter
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.metadata import ModelMetadata, read_metadata
from edge_emotion.preprocess import low_pass

log = logging.getLogger(__name__)


def quantize(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Float values -> the tensor's integer type: q = round(x / scale) + zero_point, clipped."""
    scale, zero_point = detail["quantization"]
    dtype = detail["dtype"]
    if not scale:  # a float tensor
        return values.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(values / scale) + zero_point, info.min, info.max).astype(dtype)


def dequantize(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """The tensor's integers -> float: x = (q - zero_point) * scale."""
    scale, zero_point = detail["quantization"]
    if not scale:
        return values.astype(np.float32)
    return (values.astype(np.float32) - zero_point) * scale


def mirror_averaged(predict: Callable[[np.ndarray], np.ndarray], inputs: np.ndarray) -> np.ndarray:
    """``predict`` on the faces and on their mirror images in one batch, averaged.

    Expressions are near left-right symmetric, so the mirror is a second opinion for
    the price of one more face per face: about a point of FER2013 accuracy for the shipped model.
    """
    both = predict(np.concatenate([inputs, inputs[:, :, ::-1]]))
    return (both[: len(inputs)] + both[len(inputs) :]) / 2


class Classifier:
    """A .tflite emotion model: ``predict(inputs (N, S, S, 1) in 0..1) -> probabilities (N, classes)``.

    A model with a dynamic batch dimension runs all faces of a frame in one ``invoke``;
    a fixed-batch model (Edge TPU) runs them one by one. ``mirror`` averages every face
    with its mirror image (twice the classifier's work). Inputs are low-passed to the
    sharpness the model's metadata names, so every caller feeds plain scaled faces.
    ``metadata`` stands in for the sidecar while a model is being converted.
    """

    def __init__(
        self,
        model: Path,
        *,
        threads: int = 2,
        edgetpu: bool = False,
        reference: bool = False,
        mirror: bool = False,
        metadata: ModelMetadata | None = None,
    ) -> None:
        self.path = model
        self.mirror = mirror
        self.interpreter = make_interpreter(model, threads=threads, edgetpu=edgetpu, reference=reference)
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise EdgeEmotionError(f"{model}: expected one input and one output tensor")
        self.input, self.output = inputs[0], outputs[0]
        shape = list(self.input["shape"])
        if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 1:
            raise EdgeEmotionError(f"{model}: input shape {shape} is not a square grey image (1, S, S, 1)")
        self.input_size = int(shape[1])
        self.dynamic_batch = int(self.input.get("shape_signature", shape)[0]) == -1
        self.batch = int(shape[0])
        self.metadata = metadata or read_metadata(model) or ModelMetadata(input_size=self.input_size)
        classes = int(self.output["shape"][-1])
        if len(self.metadata.class_names) != classes:
            raise EdgeEmotionError(
                f"{model}: {classes} outputs but its metadata names {len(self.metadata.class_names)} classes"
            )
        if self.metadata.input_size != self.input_size:
            raise EdgeEmotionError(
                f"{model}: input is {self.input_size}x{self.input_size} but its metadata says "
                f"{self.metadata.input_size}"
            )

    @property
    def class_names(self) -> list[str]:
        return self.metadata.class_names

    @property
    def input_dtype(self) -> str:
        return np.dtype(self.input["dtype"]).name

    def _resize(self, batch: int) -> None:
        if batch != self.batch:
            self.interpreter.resize_tensor_input(self.input["index"], [batch, self.input_size, self.input_size, 1])
            self.interpreter.allocate_tensors()
            self.batch = batch

    def _invoke(self, inputs: np.ndarray) -> np.ndarray:
        self.interpreter.set_tensor(self.input["index"], quantize(inputs, self.input))
        self.interpreter.invoke()
        return dequantize(self.interpreter.get_tensor(self.output["index"]), self.output)

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """Class probabilities for a stack of scaled faces (N, S, S, 1) in 0..1."""
        if len(inputs) == 0:
            return np.zeros((0, len(self.class_names)), dtype=np.float32)
        inputs = low_pass(inputs, self.metadata.low_pass_sigma)
        return mirror_averaged(self._predict, inputs) if self.mirror else self._predict(inputs)

    def _predict(self, inputs: np.ndarray, max_batch: int = 256) -> np.ndarray:
        if not self.dynamic_batch:
            return np.concatenate([self._invoke(face[np.newaxis]) for face in inputs])
        chunks = []
        for start in range(0, len(inputs), max_batch):
            chunk = inputs[start : start + max_batch]
            self._resize(len(chunk))
            chunks.append(self._invoke(chunk))
        return np.concatenate(chunks)
