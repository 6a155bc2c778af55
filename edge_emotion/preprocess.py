"""The preprocessing contract, written once for training, calibration, evaluation and the device.

A face becomes a 48x48 single-channel image with pixels in 0..1 (float32). Training
data is already 48x48 grey, so it only goes through ``scale``; the device loop aligns
faces out of colour frames (``align_face``) and ends in the same ``scale``, as a plain crop
does through ``face_to_input``. Only numpy and OpenCV here: the device side imports this module.

Sharpness is part of the contract: a model sees faces exactly as sharp as those it
learned from. A model whose training faces were softened (as chained augmentation
resampling does) records the Gaussian ``low_pass`` sigma that matches them, and every
consumer applies it with ``low_pass`` before the model.
"""

from collections.abc import Sequence

import cv2
import numpy as np

INPUT_SIZE = 48
INPUT_SHAPE = (INPUT_SIZE, INPUT_SIZE, 1)  # one face as every model takes it: rows, columns, grey
PIXEL_SCALE = 1.0 / 255.0
# Image files OpenCV reads and writes: faces in a data folder, --image and --dir sources, --save targets.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"})


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


# Faces in frames. A detector's face becomes the model's input through one similarity transform
# (rotation, uniform scale, shift) and one warp, framed as FER2013 frames its faces. Where FER2013
# puts a face was measured on 3,000 of its Training faces by benchmarks/measure_template.py
# (benchmarks/results/face_template.json), in 48x48 pixel coordinates, pixel centres at integers.
# YuNet's five landmarks (found on 96 % of them), median of each coordinate: right eye, left eye,
# nose tip, right and left mouth corners (the person's right, on the image's left). FER2013's
# framing is loose: the eye distance's quartiles are 15.8 and 20.1 px, the eye line's +-4 degrees.
FER_LANDMARKS = np.array([[14.47, 17.92], [32.81, 17.80], [23.44, 28.45], [16.51, 36.51], [31.24, 36.56]], np.float32)
# Without landmarks: the Haar cascade's box on the same faces (found on 79 %), median centre x, y
# and width. It is FER2013's own square, give or take a pixel: the data set was cut with such boxes.
FER_BOX = (23.5, 23.38, 46.5)
# Anti-alias blur of a face shrunk s times to the input: a Gaussian of ANTI_ALIAS * sqrt(s^2 - 1) frame
# pixels, about a box filter's (INTER_AREA) worth. Measured by benchmarks/sharpness.py: real camera faces
# aligned with 0.3 are as sharp as FER2013's training faces; with 0.5 they were half as sharp.
ANTI_ALIAS = 0.3
Points = np.ndarray | Sequence[tuple[float, float]]


def pixel_centres(points: np.ndarray, factor: float) -> np.ndarray:
    """Point coordinates in an image scaled by ``factor`` (as cv2.resize scales it): pixel centres map
    to pixel centres, so a point keeps its place on the face."""
    return (np.asarray(points, np.float64) + 0.5) * factor - 0.5


def face_matrix(box: tuple[int, int, int, int], landmarks: Points | None = None, size: int = INPUT_SIZE) -> np.ndarray:
    """The 2x3 similarity from frame pixels to a size x size input framed as FER2013 frames faces.

    With five landmarks it is fitted to FER_LANDMARKS (eyes level whatever the head's roll); without
    them, or when they are degenerate, the box (x, y, w, h) is scaled and shifted onto FER_BOX.
    """
    factor = size / INPUT_SIZE
    if landmarks is not None:
        template = pixel_centres(FER_LANDMARKS, factor).astype(np.float32)
        matrix, _ = cv2.estimateAffinePartial2D(np.asarray(landmarks, np.float32), template, method=cv2.LMEDS)
        if matrix is not None:
            return matrix
    x, y, w, h = box
    centre_x, centre_y, width = FER_BOX
    zoom = width * factor / w
    return np.array(
        [
            [zoom, 0.0, (centre_x + 0.5) * factor - 0.5 - zoom * (x + w / 2 - 0.5)],
            [0.0, zoom, (centre_y + 0.5) * factor - 0.5 - zoom * (y + h / 2 - 0.5)],
        ]
    )


def align_face(
    image: np.ndarray,
    box: tuple[int, int, int, int],
    landmarks: Points | None = None,
    size: int = INPUT_SIZE,
    anti_alias: float = ANTI_ALIAS,
) -> np.ndarray:
    """A face in a frame (BGR or grey) -> a size x size grey uint8 crop in FER2013's framing.

    One warp, border replicated, so a face cut by the frame's edge still fills the input. A face
    larger than the input is blurred first (its region only) by ``anti_alias``, so its fine detail
    does not alias and it comes out as sharp as ``resize_face``'s INTER_AREA crops and FER2013's faces.
    """
    gray, matrix = to_gray(image), face_matrix(box, landmarks, size)
    shrink = 1.0 / np.sqrt(abs(np.linalg.det(matrix[:, :2])))  # frame pixels per input pixel
    if shrink > 1.0 and anti_alias > 0:
        gray, matrix = _blurred_region(gray, matrix, size, anti_alias * np.sqrt(shrink**2 - 1.0))
    return cv2.warpAffine(gray, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _blurred_region(gray: np.ndarray, matrix: np.ndarray, size: int, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``gray`` that the warp reads, blurred by ``sigma``, and the matrix moved onto it."""
    corners = (
        cv2.invertAffineTransform(matrix) @ np.array([[-1, -1, 1], [size, -1, 1], [-1, size, 1], [size, size, 1]]).T
    )
    margin = 3 * sigma + 2
    left, top = np.maximum(0, np.floor(corners.min(axis=1) - margin)).astype(int)
    right, bottom = np.minimum(gray.shape[::-1], np.ceil(corners.max(axis=1) + margin)).astype(int)
    if right <= left or bottom <= top:  # the face lies outside the frame: only replicated border to read
        return gray, matrix
    region = cv2.GaussianBlur(gray[top:bottom, left:right], (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    moved = matrix.copy()
    moved[:, 2] += matrix[:, :2] @ (left, top)
    return region, moved
