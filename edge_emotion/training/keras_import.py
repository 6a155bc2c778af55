"""TensorFlow and Keras, imported where used, with an install hint when they are missing."""

from types import ModuleType

from edge_emotion.errors import missing_extra


def import_tf() -> ModuleType:
    try:
        import tensorflow as tf
    except ImportError:
        raise missing_extra("TensorFlow", "train") from None
    return tf


def import_keras() -> ModuleType:
    import_tf()
    import keras

    return keras
