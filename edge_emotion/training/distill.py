"""Knowledge distillation: trained models' predictions on the training faces become part of the targets.

The teacher runs once, before training, and its probabilities are cached in the student's
run folder, so distillation costs no time per epoch and a resumed run reuses them.
"""

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edge_emotion.atomic import atomic_path
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.training.data import FaceSet
from edge_emotion.training.resolve import load_model

log = logging.getLogger(__name__)


def teacher_probabilities(teacher: str | Path, faces: FaceSet) -> np.ndarray:
    """The teacher (a shipped model's name, a run or member folder, a .keras or .tflite file) on ``faces``,
    averaged with the mirrored faces.

    Averaging the two views is nearly free here (it runs once) and gives a better teacher
    (two points on PublicTest for the vgg20), left-right symmetric like the flips the
    student sees in training. A .tflite teacher lets the shipped model teach without its run.
    """
    return load_model(teacher).predict(faces, mirror=True).astype(np.float32)


def cached_teacher_probabilities(teachers: Sequence[str | Path], faces: FaceSet, cache: Path) -> np.ndarray:
    """The teachers' mean probabilities from ``cache`` when it matches these faces, else computed and saved.

    Several teachers average into one ensemble, stronger than each of them. A damaged cache
    is only a cache: it is computed again, as one for other faces is.
    """
    if cache.is_file():
        try:
            cached = np.load(cache)
        except (OSError, ValueError, EOFError) as error:  # not an .npy file, or one cut short
            log.warning("%s: unreadable (%s); computing the teachers' predictions again", cache, error)
        else:
            if cached.shape == faces.targets.shape:
                return cached
    probabilities = np.mean([teacher_probabilities(teacher, faces) for teacher in teachers], axis=0)
    with atomic_path(cache) as temporary:
        np.save(temporary, probabilities)
    return probabilities


def distilled(faces: FaceSet, teacher: np.ndarray, weight: float) -> FaceSet:
    """Targets blended from the labels and the teacher: ``(1 - weight) * labels + weight * teacher``."""
    if not 0.0 <= weight <= 1.0:
        raise EdgeEmotionError(f"distillation weight must be within 0..1, got {weight}")
    if teacher.shape != faces.targets.shape:
        raise EdgeEmotionError(f"teacher gave {teacher.shape} probabilities for targets of {faces.targets.shape}")
    return FaceSet(faces.images, (1.0 - weight) * faces.targets + weight * teacher, faces.source)
