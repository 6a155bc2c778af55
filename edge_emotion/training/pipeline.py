"""tf.data pipelines over a FaceSet: scaled by the shared contract, shuffled, augmented, batched."""

from typing import Any

import numpy as np

from edge_emotion.preprocess import model_inputs
from edge_emotion.training.augment import random_affine
from edge_emotion.training.data import FaceSet
from edge_emotion.training.keras_import import import_tf


def make_dataset(
    faces: FaceSet, batch_size: int, *, train: bool, augment: bool, seed: int, low_pass_sigma: float = 0.0
) -> Any:
    """Batches of (images in 0..1, targets); training data is reshuffled and re-jittered every epoch."""
    tf = import_tf()
    data = tf.data.Dataset.from_tensor_slices((model_inputs(faces.images, low_pass_sigma), faces.targets))
    if train:
        data = data.shuffle(len(faces), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if train and augment:
        # One seed per batch from a seeded stream that changes every epoch: parallel and reproducible.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

        def jitter(images: np.ndarray, batch_seed: np.int64) -> np.ndarray:
            return random_affine(images, np.random.default_rng(int(batch_seed) & 0xFFFFFFFF))

        def augmented(x: Any, y: Any, batch_seed: Any) -> tuple[Any, Any]:
            images = tf.numpy_function(jitter, [x, batch_seed], tf.float32, stateful=False)
            return tf.ensure_shape(images, x.shape), y

        data = tf.data.Dataset.zip(data, seeds).map(
            lambda pair, batch_seed: augmented(*pair, batch_seed), num_parallel_calls=tf.data.AUTOTUNE
        )
    return data.prefetch(tf.data.AUTOTUNE)
