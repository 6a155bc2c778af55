"""tf.data pipelines over a FaceSet: scaled by the shared contract, shuffled, augmented, batched."""

from typing import Any

from edge_emotion.preprocess import scale
from edge_emotion.training.data import FaceSet
from edge_emotion.training.keras_import import import_keras, import_tf


def augmenter(seed: int) -> Any:
    """Flip, shift, rotation and zoom: the jitter a webcam face shows from frame to frame."""
    keras = import_keras()
    layers = keras.layers
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomTranslation(0.1, 0.1, fill_mode="nearest", seed=seed + 1),
            layers.RandomRotation(10 / 360, fill_mode="nearest", seed=seed + 2),
            layers.RandomZoom(0.1, fill_mode="nearest", seed=seed + 3),
        ],
        name="augment",
    )


def make_dataset(faces: FaceSet, batch_size: int, *, train: bool, augment: bool, seed: int) -> Any:
    """Batches of (images in 0..1, targets); training data is reshuffled every epoch."""
    tf = import_tf()
    data = tf.data.Dataset.from_tensor_slices((scale(faces.images), faces.targets))
    if train:
        data = data.shuffle(len(faces), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if train and augment:
        jitter = augmenter(seed)
        data = data.map(lambda x, y: (jitter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)
