"""Training jitter that keeps faces as sharp as the faces the model is scored on.

Flip, shift, rotation and zoom are composed into one affine map per face and applied
with one Lanczos resampling. Keras' chained Random* layers resample three times with
bilinear interpolation, which softens a face like a Gaussian blur of sigma 0.68 pixels
(``benchmarks/sharpness.py``), so a model trained on them meets sharper faces at test
time than it ever learned from; one Lanczos pass keeps about 90 % of a face's detail.

Faces cut out of camera frames are softer than FER2013's own crops (focus, compression, the
anti-alias blur before the warp to 48x48): ``blur`` softens half the faces by a random
Gaussian up to that sigma, so a model learns both (``benchmarks/pipeline_faithfulness.py``).

A camera adds more than softness: ``corrupt`` puts that share of the faces under one of
``corruptions.FAMILIES`` (noise, dim light, JPEG, blur, small faces, contrast, exposure, framing,
occlusion) at a random strength, before the jitter's resampling, as a camera's frame is
corrupted before the face is cut out of it. ``occlude`` covers a further share in part (a hand
over the mouth, a mask, dark glasses), the family that costs the models most (``benchmarks/robustness.py``).
With a teacher's targets computed on the clean faces, this is consistency distillation: the
student learns the clean answer from a bad picture.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from edge_emotion.preprocess import low_pass
from edge_emotion.training.corruptions import random_corruptions


@dataclass(frozen=True)
class Jitter:
    """The range of each random change: the frame-to-frame wobble of a webcam face."""

    shift: float = 0.1  # of the face's size, each way
    degrees: float = 10.0
    zoom: float = 0.1
    flip: bool = True
    blur: float = 0.0  # the largest Gaussian sigma (pixels) half the faces are softened by
    corrupt: float = 0.0  # the share of faces put under a random camera corruption
    occlude: float = 0.0  # the share of faces also covered in part (a hand, a mask, glasses)


def random_affine(faces: np.ndarray, rng: np.random.Generator, jitter: Jitter = Jitter()) -> np.ndarray:
    """Faces (N, S, S, 1) float, each moved by one random affine map in one resampling; edges replicated."""
    count, size = len(faces), faces.shape[1]
    centre = (size - 1) / 2
    angles = rng.uniform(-jitter.degrees, jitter.degrees, count)
    zooms = rng.uniform(1 - jitter.zoom, 1 + jitter.zoom, count)
    shifts = rng.uniform(-jitter.shift, jitter.shift, (count, 2)) * size
    flips = rng.random(count) < 0.5 if jitter.flip else np.zeros(count, dtype=bool)
    sigmas = np.where(rng.random(count) < 0.5, rng.uniform(0.0, jitter.blur, count), 0.0)
    if jitter.corrupt > 0 or jitter.occlude > 0:
        grey = np.round(np.clip(faces[..., 0], 0.0, 1.0) * 255).astype(np.uint8)
        grey = random_corruptions(grey, rng, jitter.corrupt) if jitter.corrupt > 0 else grey
        grey = random_corruptions(grey, rng, jitter.occlude, ("occlusion",)) if jitter.occlude > 0 else grey
        faces = (grey.astype(np.float32) / 255)[..., np.newaxis]
    out = np.empty_like(faces)
    for i, face in enumerate(faces[..., 0]):
        matrix = cv2.getRotationMatrix2D((centre, centre), angles[i], zooms[i])
        matrix[:, 2] += shifts[i]
        if flips[i]:  # mirror the output: x -> (size - 1) - x
            matrix[0] = -matrix[0]
            matrix[0, 2] += size - 1
        out[i, ..., 0] = cv2.warpAffine(
            face, matrix, (size, size), flags=cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REPLICATE
        )
        out[i] = low_pass(out[i], sigmas[i])
    return np.clip(out, 0.0, 1.0, out=out)
