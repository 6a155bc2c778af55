"""tf.data pipelines over faces in memory or on disk: scaled by the shared contract, shuffled, augmented, batched.

Faces on disk (``FaceFiles``, a big image folder) are decoded while training by the same
``read_face_image`` and ``model_inputs`` as faces in memory, so both paths give a model the
same inputs; only the file names are held whole, decoded faces pass a bounded buffer.
"""

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from edge_emotion.data import FaceFiles, FaceSet, read_face_image
from edge_emotion.preprocess import INPUT_SHAPE, model_inputs
from edge_emotion.tf_import import import_tf
from edge_emotion.training.augment import Jitter, random_affine

DEFAULT_JITTER = Jitter()
SHUFFLE_BUFFER = 4096  # decoded faces a cached stream shuffles through: 4,096 x 9 KiB = 36 MiB


def make_dataset(
    faces: FaceSet | FaceFiles,
    batch_size: int,
    *,
    train: bool,
    augment: bool,
    seed: int,
    low_pass_sigma: float = 0.0,
    jitter: Jitter = DEFAULT_JITTER,
    cache: str | None = None,
) -> Any:
    """Batches of (images in 0..1, targets); training data is reshuffled and re-jittered every epoch
    by ``jitter`` (softness and camera corruptions too, see ``augment.Jitter``).

    ``batch_size`` is the global batch: under a tf.distribute strategy each replica gets its
    share. ``cache`` (faces on disk only) keeps the decoded faces in tf.data cache files
    named ``cache-<fingerprint>`` after the first epoch.
    """
    tf = import_tf()
    if isinstance(faces, FaceFiles):
        data = _decoded(faces, train=train, seed=seed, low_pass_sigma=low_pass_sigma, cache=cache)
    else:
        data = tf.data.Dataset.from_tensor_slices((model_inputs(faces.images, low_pass_sigma), faces.targets))
        if train:
            data = data.shuffle(len(faces), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if train and augment:
        # One seed per batch from a seeded stream that changes every epoch: parallel and reproducible.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

        def jittered(images: np.ndarray, batch_seed: np.int64) -> np.ndarray:
            return random_affine(images, np.random.default_rng(int(batch_seed) & 0xFFFFFFFF), jitter)

        def augmented(x: Any, y: Any, batch_seed: Any) -> tuple[Any, Any]:
            images = tf.numpy_function(jittered, [x, batch_seed], tf.float32, stateful=False)
            return tf.ensure_shape(images, x.shape), y

        data = tf.data.Dataset.zip(data, seeds).map(
            lambda pair, batch_seed: augmented(*pair, batch_seed), num_parallel_calls=tf.data.AUTOTUNE
        )
    # Every worker of a cluster runs this same seeded pipeline and keeps its share of each batch.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return data.with_options(options).prefetch(tf.data.AUTOTUNE)


def _decoded(faces: FaceFiles, *, train: bool, seed: int, low_pass_sigma: float, cache: str | None) -> Any:
    """(model input, target) pairs read from the files as they are needed; the names shuffled whole each epoch.

    A cache gives its faces back in the order it stored them, so after one they also pass a
    shuffle buffer of ``SHUFFLE_BUFFER`` faces.
    """
    tf = import_tf()

    def decode(path: bytes) -> np.ndarray:
        return model_inputs(read_face_image(Path(path.decode())), low_pass_sigma)

    def face(path: Any, target: Any) -> tuple[Any, Any]:
        image = tf.numpy_function(decode, [path], tf.float32, stateful=False)
        return tf.ensure_shape(image, INPUT_SHAPE), target

    data = tf.data.Dataset.from_tensor_slices((list(faces.paths), faces.targets))
    if train:
        data = data.shuffle(len(faces), seed=seed, reshuffle_each_iteration=True)
    data = data.map(face, num_parallel_calls=tf.data.AUTOTUNE)
    if cache is None:
        return data
    # Named after its faces and low-pass, so another data set or sigma never reads a stale cache.
    key = hashlib.sha1(repr((faces.paths, low_pass_sigma)).encode()).hexdigest()[:12]
    data = data.cache(f"{cache}-{key}")
    return data.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True) if train else data
