"""Run the emotion model on face inputs: quantise in, invoke once per batch, dequantise out."""

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edge_emotion.device.engine.interpreter import make_interpreter
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.metadata import GREY, MAX_LOW_PASS_SIGMA, ModelMetadata, read_metadata, sidecar_path
from edge_emotion.preprocess import INPUT_SIZE, PIXEL_SCALE, low_pass
from edge_emotion.quiet import native_output_hidden

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


def dims(shape: Any) -> tuple[int, ...]:
    """A tensor's shape as plain ints: (1, 48, 48, 1), not numpy's [np.int32(1), ...]."""
    return tuple(int(d) for d in shape)


def check_contract(model: Path, interpreter: Any, metadata: ModelMetadata | None) -> ModelMetadata:
    """The metadata ``model`` runs under (``metadata``, else its sidecar's, else FER2013's defaults) once
    ``interpreter`` (its tensors not yet allocated) is checked against it and allocated, or one error
    naming what does not fit. Every consumer of a .tflite model (run, evaluate, convert's check, the
    API) loads it through ``Classifier``.

    The contract: one grey 48x48 input (N, 48, 48, 1), as preprocessing makes faces everywhere and
    the metadata's input_size says; a model with a dynamic height or width is resized to that. One
    output (N, classes), or (N, 1, classes) read as that, with as many classes as the metadata names,
    none twice; a model without a sidecar is taken as FER2013's 7 classes. The low-pass sigma finite and
    within 0..MAX_LOW_PASS_SIGMA; colour and pixel scale those preprocessing makes (grey, 1/255). Where
    the metadata records them, the quantisation mode and the input and output tensors' scale and zero
    point must be the model's own: a sidecar left beside another conversion is refused.
    """
    named = metadata or read_metadata(model)
    where = f"{model}'s metadata" if metadata else str(sidecar_path(model)) if named else str(model)
    metadata = named or ModelMetadata()
    sigma = metadata.low_pass_sigma
    if not (math.isfinite(sigma) and 0.0 <= sigma <= MAX_LOW_PASS_SIGMA):
        raise EdgeEmotionError(f"{where}: low_pass_sigma {sigma} is not a blur of 0 to {MAX_LOW_PASS_SIGMA:g} pixels")
    names = metadata.class_names
    if repeated := sorted({name for name in names if names.count(name) > 1}):
        raise EdgeEmotionError(f"{where}: class_names names {', '.join(repeated)} more than once")
    if metadata.color != GREY or not math.isclose(metadata.pixel_scale, PIXEL_SCALE):
        raise EdgeEmotionError(
            f"{where}: color {metadata.color!r} and pixel_scale {metadata.pixel_scale:g}, but faces are fed "
            f"{GREY} and scaled by 1/255 everywhere a model is fed (preprocess.scale)"
        )
    size = metadata.input_size
    if size != INPUT_SIZE:
        raise EdgeEmotionError(
            f"{where}: input_size {size}, but faces are {INPUT_SIZE}x{INPUT_SIZE} everywhere a model is fed "
            "(preprocess.INPUT_SIZE); retrain at that size"
        )
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise EdgeEmotionError(
            f"{model}: expected one input and one output tensor, not {len(inputs)} and {len(outputs)}"
        )
    shape, signature = dims(inputs[0]["shape"]), dims(inputs[0].get("shape_signature", inputs[0]["shape"]))
    grey = f"is not a square grey image (N, {size}, {size}, 1)"
    if len(shape) != 4:
        raise EdgeEmotionError(f"{model}: input shape {shape} {grey}")
    dynamic = any(d == -1 for d in signature[1:])  # a dynamic height, width or channels: fixed to the contract
    try:
        if dynamic:
            interpreter.resize_tensor_input(inputs[0]["index"], [shape[0], size, size, 1])
        with native_output_hidden(2):  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as error:
        at = f"resized to {size}x{size}" if dynamic else f"at its input {shape}"
        raise EdgeEmotionError(f"{model}: the interpreter cannot run it {at} ({error})") from None
    shape = dims(interpreter.get_input_details()[0]["shape"])
    if shape[3] != 1:
        raise EdgeEmotionError(f"{model}: input shape {shape} {grey}: it takes {shape[3]} channels")
    if shape[1:3] != (size, size):
        raise EdgeEmotionError(
            f"{model}: input is {shape[1]}x{shape[2]}, but {'its metadata says' if named else 'faces are'} "
            f"{size}x{size}"
        )
    output = dims(interpreter.get_output_details()[0]["shape"])
    if len(output) < 2 or output[0] != shape[0] or any(d != 1 for d in output[1:-1]):
        raise EdgeEmotionError(f"{model}: output shape {output} is not class scores per face (N, classes)")
    if output[-1] != len(names):
        if not named:
            raise EdgeEmotionError(
                f"{model}: {output[-1]} classes and no sidecar {sidecar_path(model).name} to name them; write one "
                'holding {"class_names": [...]} in output order (without one a model has FER2013\'s 7 classes)'
            )
        raise EdgeEmotionError(f"{where}: {output[-1]} outputs but {len(names)} class_names ({', '.join(names)})")
    check_quantization(where, interpreter, metadata)
    return metadata


def tensor_quantization(detail: dict[str, Any]) -> dict[str, float]:
    """A tensor's ``{"scale", "zero_point"}`` as the metadata records it; empty for a float tensor."""
    scale, zero_point = detail["quantization"]
    return {"scale": float(scale), "zero_point": int(zero_point)} if scale else {}


def check_quantization(where: str, interpreter: Any, metadata: ModelMetadata) -> None:
    """The quantisation the metadata records (where it does) is the model's own."""
    detail = interpreter.get_input_details()[0]
    integer = np.dtype(detail["dtype"]) == np.int8
    if metadata.quantization and (metadata.quantization == "int8") != integer:
        taken = np.dtype(detail["dtype"]).name
        raise EdgeEmotionError(f"{where}: quantization {metadata.quantization}, but the model takes {taken} inputs")
    for name, tensor in (("input", detail), ("output", interpreter.get_output_details()[0])):
        recorded, actual = getattr(metadata, f"{name}_quantization"), tensor_quantization(tensor)
        if recorded and recorded != actual:
            raise EdgeEmotionError(
                f"{where}: {name}_quantization {recorded} is not the model's ({actual or 'a float tensor'}): "
                "metadata of another conversion; convert the model again to write its own"
            )


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
        self.interpreter = make_interpreter(
            model, threads=threads, edgetpu=edgetpu, reference=reference, allocate=False
        )
        self._metadata = check_contract(model, self.interpreter, metadata)
        self.input, self.output = self.interpreter.get_input_details()[0], self.interpreter.get_output_details()[0]
        self.input_size = self.metadata.input_size
        self.dynamic_batch = int(self.input.get("shape_signature", self.input["shape"])[0]) == -1
        self.batch = int(self.input["shape"][0])

    @property
    def metadata(self) -> ModelMetadata:
        """The contract the model runs under, fixed when it is loaded (give another with ``metadata=``)."""
        return self._metadata

    @property
    def class_names(self) -> list[str]:
        return self.metadata.class_names

    def _resize(self, batch: int) -> None:
        if batch != self.batch:
            self.interpreter.resize_tensor_input(self.input["index"], [batch, self.input_size, self.input_size, 1])
            self.interpreter.allocate_tensors()
            self.batch = batch

    def _invoke(self, inputs: np.ndarray) -> np.ndarray:
        self.interpreter.set_tensor(self.input["index"], quantize(inputs, self.input))
        self.interpreter.invoke()
        scores = dequantize(self.interpreter.get_tensor(self.output["index"]), self.output)
        return scores.reshape(len(inputs), -1)  # (N, 1, classes) as (N, classes)

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
