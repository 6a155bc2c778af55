"""tf.data pipelines over faces in memory or on disk: scaled by the shared contract, shuffled, augmented, batched.

Faces on disk (``FaceFiles``, a big image folder) are decoded while training by the same
``read_face_image`` and ``model_inputs`` as faces in memory, so both paths give a model the
same inputs; only the file names are held whole, decoded faces pass a bounded buffer.
"""

import gc
import glob
import hashlib
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

from edge_emotion.atomic import write_errors
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.preprocess import INPUT_SHAPE, model_inputs
from edge_emotion.training.augment import Jitter, random_affine
from edge_emotion.training.data import FaceFiles, FaceSet, read_face_image
from edge_emotion.training.tf_import import import_tf

DEFAULT_JITTER = Jitter()
SHUFFLE_BUFFER = 4096  # decoded faces a cached stream shuffles through: 4,096 x 9 KiB = 36 MiB
KEY_LENGTH = 12  # hex digits of a cache's name after its prefix
_CLAIMED: dict[str, Any] = {}  # cache prefix -> its lock file, held open (flocked) by this process


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
            lambda pair, batch_seed: augmented(pair[0], pair[1], batch_seed), num_parallel_calls=tf.data.AUTOTUNE
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
    claim_cache(cache)
    data = data.cache(cache_name(cache, faces, low_pass_sigma))
    return data.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True) if train else data


def cache_name(prefix: str, faces: FaceFiles, low_pass_sigma: float) -> str:
    """The tf.data cache of ``faces``: named after them and the low-pass, so another data set or sigma
    never reads a stale cache."""
    return f"{prefix}-{hashlib.sha1(repr((faces.paths, low_pass_sigma)).encode()).hexdigest()[:KEY_LENGTH]}"


def claim_cache(prefix: str) -> None:
    """Hold the tf.data cache files named ``prefix``-* for the life of this process, first removing what a
    writer killed while it wrote them left behind.

    TensorFlow's lock beside a cache being written (``<file>_<shard>.lockfile``) names no process, so a
    kill leaves one that fails every later run. Here ``prefix``.lock is flocked, which the system
    releases when the process ends: whoever takes it knows that no live process writes this cache,
    so its lockfiles and half-written files are stale.
    """
    if prefix in _CLAIMED:
        return
    try:
        import fcntl
    except ImportError:  # Windows: no flock, TensorFlow's lockfile alone
        return
    lock = Path(f"{prefix}.lock")
    with write_errors(lock):
        handle = lock.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise EdgeEmotionError(
            f"{prefix}: another process is training with this --cache; let it finish, or give this run another --cache"
        ) from None
    except OSError:  # a file system without locks: TensorFlow's lockfile alone
        handle.close()
        return
    _CLAIMED[prefix] = handle
    files = glob.escape(Path(prefix).name) + "-" + "[0-9a-f]" * KEY_LENGTH + "_*"  # the caches _decoded names
    for stale in (*lock.parent.glob(f"{files}.lockfile"), *lock.parent.glob(f"{files}.tempstate*")):
        stale.unlink(missing_ok=True)


def release_pipelines(error: BaseException, model: Any) -> None:
    """Stop the tf.data iterators that ``model.fit`` failing with ``error`` leaves behind, while Python can still
    run their threads.

    Keras leaves the training iterator in finished frames of the error's traceback (frames it filtered
    out of the traceback, reached from those it kept) and the validation iterator on the model. Left
    alive, their map threads still call into Python while the interpreter exits, which then aborts
    ("terminate called without an active exception") or hangs.
    """
    traceback = error.__traceback__
    while traceback is not None:
        frame: FrameType | None = traceback.tb_frame
        while frame is not None:
            try:
                frame.clear()  # a finished frame's locals
            except RuntimeError:  # a frame still running, as are its callers
                break
            frame = frame.f_back
        traceback = traceback.tb_next
    if getattr(model, "_eval_epoch_iterator", None) is not None:
        model._eval_epoch_iterator = None  # as Keras does when fit ends
    gc.collect()  # the iterators sit in reference cycles of frames and generators
