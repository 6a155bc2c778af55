"""Keras model -> TFLite bytes: full-integer int8 calibrated on real faces, float16, or float32."""

import contextlib
import io
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from edge_emotion.errors import EdgeEmotionError
from edge_emotion.preprocess import INPUT_SHAPE, model_inputs
from edge_emotion.quiet import native_output_hidden, verbose
from edge_emotion.training.data import FaceSet, stratified_sample
from edge_emotion.training.models import check_input
from edge_emotion.training.tf_import import import_keras, import_tf

MODES = ("int8", "float16", "float32")


def representative_faces(faces: FaceSet, count: int, seed: int, low_pass_sigma: float = 0.0) -> np.ndarray:
    """``count`` training faces, stratified by class and seeded, exactly as the model will see them."""
    if len(faces) == 0:
        raise EdgeEmotionError(f"{faces.source}: no faces to calibrate on")
    return model_inputs(stratified_sample(faces, count, seed).images, low_pass_sigma)


def to_tflite(model: Any, mode: str, representative: np.ndarray | None = None, *, static_batch: bool = False) -> bytes:
    """The model as TFLite.

    int8 uses only built-in int8 kernels with int8 input and output, so a layer that
    cannot be quantised fails the conversion instead of staying float. ``static_batch``
    fixes the batch at 1, as the Edge TPU compiler needs; otherwise it stays dynamic so
    the device can classify every face of a frame in one call.
    """
    if mode not in MODES:
        raise EdgeEmotionError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    check_input(model, model.name)
    tf = import_tf()
    if static_batch:
        keras = import_keras()
        inputs = keras.Input(INPUT_SHAPE, batch_size=1)
        model = keras.Model(inputs, model(inputs), name=model.name)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif mode == "int8":
        if representative is None or len(representative) == 0:
            raise EdgeEmotionError("int8 conversion needs representative faces to calibrate on")
        if representative.shape[1:] != INPUT_SHAPE:
            raise EdgeEmotionError(f"representative faces are {representative.shape[1:]}, expected {INPUT_SHAPE}")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: _one_at_a_time(representative)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    try:
        with quiet_conversion():
            return converter.convert()
    except Exception as error:  # the converter raises ConverterError and plain RuntimeErrors
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise EdgeEmotionError(f"TFLite conversion ({mode}) failed: {first_line}") from None


@contextlib.contextmanager
def quiet_conversion() -> Iterator[None]:
    """The converter's console output hidden unless ``verbose()``: Keras' "Saved artifact at ..." listing
    (Python), its warnings about input statistics it never needs, and ``fully_quantize: 0, ...`` (C++)."""
    if verbose():
        yield
        return
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        warnings.catch_warnings(),
        native_output_hidden(1, 2),
    ):
        warnings.simplefilter("ignore")
        yield


def _one_at_a_time(faces: np.ndarray) -> Iterator[list[np.ndarray]]:
    for face in faces:
        yield [face[np.newaxis]]
