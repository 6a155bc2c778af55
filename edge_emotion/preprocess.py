"""The preprocessing contract, written once for training, calibration, evaluation and the device.

A face becomes a 48x48 single-channel image with pixels in 0..1 (float32). Training
data is already 48x48 grey, so it only goes through ``scale``; the device loop crops
faces out of colour frames and goes through ``face_to_input``, which ends in the same
``scale``. Only numpy and OpenCV here: the device side imports this module.

Sharpness is part of the contract: a model sees faces exactly as sharp as those it
learned from. A model whose training faces were softened (as chained augmentation
resampling does) records the Gaussian ``low_pass`` sigma that matches them, and every
consumer applies it with ``low_pass`` before the model.
"""

import cv2
import numpy as np

INPUT_SIZE = 48
PIXEL_SCALE = 1.0 / 255.0


def scale(images: np.ndarray) -> np.ndarray:
    """uint8 grey images (..., 48, 48) -> float32 (..., 48, 48, 1) in 0..1."""
    return (np.asarray(images, dtype=np.float32) * PIXEL_SCALE)[..., np.newaxis]


def low_pass(inputs: np.ndarray, sigma: float) -> np.ndarray:
    """Each face (..., S, S) or (..., S, S, 1) blurred by a Gaussian of ``sigma`` pixels; 0 leaves it as it is."""
    if sigma <= 0 or inputs.size == 0:
        return inputs
    faces = np.asarray(inputs, dtype=np.float32)
    flat = faces.reshape(-1, *faces.shape[-3:-1]) if faces.shape[-1] == 1 else faces.reshape(-1, *faces.shape[-2:])
    blurred = np.stack([cv2.GaussianBlur(face, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE) for face in flat])
    return blurred.reshape(faces.shape)


def model_inputs(images: np.ndarray, low_pass_sigma: float = 0.0) -> np.ndarray:
    """uint8 grey 48x48 faces -> what a model with this ``low_pass_sigma`` takes: scaled, then low-passed."""
    return low_pass(scale(images), low_pass_sigma)


def to_gray(image: np.ndarray) -> np.ndarray:
    """A BGR, BGRA or grey uint8 image as one grey channel (OpenCV's BGR convention)."""
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    if image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return image[..., 0]


def resize_face(gray: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """Resize a grey crop to size x size; INTER_AREA when shrinking keeps faces from aliasing."""
    shrinking = gray.shape[0] > size or gray.shape[1] > size
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(gray, (size, size), interpolation=interpolation)


def face_to_input(crop: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """A face crop of any size and colour -> the model's float input (size, size, 1)."""
    return scale(resize_face(to_gray(crop), size))
