"""The preprocessing contract, written once for training, calibration, evaluation and the device.

A face becomes a 48x48 single-channel image with pixels in 0..1 (float32). Training
data is already 48x48 grey, so it only goes through ``scale``; the device loop crops
faces out of colour frames and goes through ``face_to_input``, which ends in the same
``scale``. Only numpy and OpenCV here: the device side imports this module.
"""

import cv2
import numpy as np

INPUT_SIZE = 48
PIXEL_SCALE = 1.0 / 255.0


def scale(images: np.ndarray) -> np.ndarray:
    """uint8 grey images (..., 48, 48) -> float32 (..., 48, 48, 1) in 0..1."""
    return (np.asarray(images, dtype=np.float32) * PIXEL_SCALE)[..., np.newaxis]


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
