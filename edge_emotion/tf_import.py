"""TensorFlow and Keras, imported where used, with an install hint when they are missing."""

import os
from types import ModuleType

from edge_emotion.errors import missing_extra


def import_tf() -> ModuleType:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter off the terminal
    try:
        import tensorflow as tf
    except ImportError:
        raise missing_extra("TensorFlow", "train") from None
    return tf


def import_keras() -> ModuleType:
    import_tf()
    import keras

    return keras
