"""TensorFlow and Keras, imported where used, with an install hint when they are missing.

Unless the user asked for them (``-v``), TensorFlow's C++ start-up lines stay off the terminal:
TF_CPP_MIN_LOG_LEVEL (read once, when TensorFlow loads) drops its INFO and WARNING logs, and
the lines written before absl's logging is set up (absl's own "All log messages before
absl::InitializeLog() is called are written to STDERR", oneDNN's notice) are hidden while it loads.
"""

import os
from typing import Any

from edge_emotion.errors import missing_extra
from edge_emotion.quiet import native_output_hidden, verbose


def import_tf() -> Any:  # Any: TensorFlow is untyped here (mypy skips it) and its classes are subclassed
    if not verbose():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        with native_output_hidden(2):
            import tensorflow as tf
    except ModuleNotFoundError as error:
        if error.name != "tensorflow":  # TensorFlow is there but one of its own imports failed: say which
            raise
        raise missing_extra("TensorFlow", "train") from None
    return tf


def import_keras() -> Any:  # Any, as import_tf
    """Keras on TensorFlow; on the backend KERAS_BACKEND names (jax, torch) Keras alone, so a GPU
    machine without TensorFlow trains the same models (scripts/train_on_gpu.py)."""
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        import_tf()
    import keras

    return keras
