"""Camera conditions as a documented family of corruptions, each at a strength from 0 (none) to 1 (strong).

A camera on a device in an ordinary room does not deliver FER2013's clean crops: its sensor is
noisy, the room is dim, frames are JPEG-compressed, out of focus or smeared by motion, faces are
small, lit flat or blown out, framed off-centre, half covered. One function per family turns a
uint8 picture (a 48x48 face, or a whole BGR frame with ``scale`` > 1 for its spatial parameters)
into the same picture under that condition. The robustness benchmark measures each family at
three severities (``SEVERITIES``); training draws a family and a random strength per face
(``random_corruptions``), the one augmentation path that every training pipeline shares.

Only numpy and OpenCV: the benchmarks, the trainer and the GPU script import this module.
"""

from collections.abc import Callable

import cv2
import numpy as np

from edge_emotion.errors import EdgeEmotionError
from edge_emotion.preprocess import FER_LANDMARKS, INPUT_SIZE

# The strength of each named severity; the benchmark's table has one column per name.
SEVERITIES = {"light": 1 / 3, "medium": 2 / 3, "strong": 1.0}


def _lerp(strength: float, weakest: float, strongest: float) -> float:
    """The parameter at ``strength``: light (1/3) is a third of the way from ``weakest`` to ``strongest``."""
    return weakest + (strongest - weakest) * strength


def _noisy(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return np.clip(image.astype(np.float32) + rng.normal(0.0, sigma, image.shape), 0, 255).astype(np.uint8)


def noise(image: np.ndarray, strength: float, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """Sensor noise: Gaussian, sigma up to 18 grey levels (light 6, medium 12)."""
    return _noisy(image, _lerp(strength, 0.0, 18.0), rng)


def low_light(image: np.ndarray, strength: float, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """A dim room: gamma up to 2.4, brightness down to 45 %, and the gain's noise (sigma up to 8)."""
    gamma, brightness = _lerp(strength, 1.0, 2.4), _lerp(strength, 1.0, 0.45)
    dark = 255.0 * brightness * (image.astype(np.float32) / 255.0) ** gamma
    return _noisy(dark, _lerp(strength, 0.0, 8.0), rng)


def jpeg(image: np.ndarray, strength: float, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """JPEG compression, quality 60 down to 8 (medium about 25)."""
    quality = round(_lerp(strength, 60.0, 8.0))
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED) if ok else None
    if decoded is None:
        raise EdgeEmotionError("OpenCV could not JPEG-encode a picture")
    return decoded


def defocus(image: np.ndarray, strength: float, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """Out of focus: a disc of radius up to 2 pixels of a 48x48 face (medium about 1.4)."""
    radius = _lerp(strength, 0.5, 2.0) * scale
    size = 2 * int(np.ceil(radius)) + 1
    grid = np.arange(size) - size // 2
    # The disc's edge anti-aliased: each tap weighted by how much of it lies inside the radius.
    kernel = np.clip(radius + 0.5 - np.hypot(*np.meshgrid(grid, grid)), 0.0, 1.0).astype(np.float32)
    return cv2.filter2D(image, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REPLICATE)


def motion(image: np.ndarray, strength: float, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """Motion blur: a line 2 to 7 pixels long (of a 48x48 face) in a random direction."""
    length = _lerp(strength, 2.0, 7.0) * scale
    size = 2 * int(np.ceil(length / 2)) + 1
    kernel = np.zeros((size, size), np.float32)
    angle = rng.uniform(0.0, np.pi)
    half = (length - 1) / 2
    centre = size // 2
    for t in np.linspace(-half, half, max(2, int(np.ceil(length)) * 4)):
        kernel[round(centre + t * np.sin(angle)), round(centre + t * np.cos(angle))] += 1.0
    return cv2.filter2D(image, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REPLICATE)


def low_resolution(image: np.ndarray, strength: float, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """A small, far face: shrunk to 40 down to 16 pixels across (of 48) and brought back up."""
    height, width = image.shape[:2]
    factor = _lerp(strength, 40.0, 16.0) / INPUT_SIZE
    small = cv2.resize(
        image, (max(1, round(width * factor)), max(1, round(height * factor))), interpolation=cv2.INTER_AREA
    )
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def contrast(image: np.ndarray, strength: float, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """Flat light: contrast about the mean down to 25 %."""
    mean = image.mean()
    flat = mean + (image.astype(np.float32) - mean) * _lerp(strength, 1.0, 0.25)
    return np.clip(flat, 0, 255).astype(np.uint8)


def exposure(image: np.ndarray, strength: float, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """Over-exposure: brightness times up to 2.2, highlights blown."""
    return np.clip(image.astype(np.float32) * _lerp(strength, 1.0, 2.2), 0, 255).astype(np.uint8)


def framing(image: np.ndarray, strength: float, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """A detector's framing error: zoom by up to +-20 %, shift by up to 12 % of the face, turn up to 25 degrees."""
    height, width = image.shape[:2]
    sign = rng.choice((-1.0, 1.0), size=4)
    zoom = 1.0 + sign[0] * _lerp(strength, 0.0, 0.2)
    shift = sign[1:3] * _lerp(strength, 0.0, 0.12) * np.array([width, height])
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), sign[3] * _lerp(strength, 0.0, 25.0), zoom)
    matrix[:, 2] += shift
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def occlusion(image: np.ndarray, strength: float, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """Part of the face covered: a hand over the mouth, a mask over mouth and nose, or dark glasses.

    Placed on FER2013's framing (``preprocess.FER_LANDMARKS``), so it covers what it would on an
    aligned face; the stronger, the more it covers and the darker the glasses.
    """
    out = image.copy()
    size = np.array(image.shape[1::-1], np.float64) / INPUT_SIZE
    eyes, nose, mouth = FER_LANDMARKS[:2] * size, FER_LANDMARKS[2] * size, FER_LANDMARKS[3:].mean(axis=0) * size
    shade = float(rng.uniform(60, 200))
    colour = (shade,) * (1 if image.ndim == 2 else image.shape[2])
    kind = rng.integers(3)
    if kind == 0:  # a hand over the mouth: from one corner (light) to the whole mouth and chin (strong)
        axes = (round(_lerp(strength, 6, 14) * size[0]), round(_lerp(strength, 4, 9) * size[1]))
        side = rng.choice((-1.0, 1.0)) * _lerp(strength, 10.0, 0.0)
        centre = (round(mouth[0] + side * size[0]), round(mouth[1]))
        cv2.ellipse(out, centre, axes, float(rng.uniform(-20, 20)), 0, 360, colour, -1, cv2.LINE_AA)
        for finger in range(1, 4):  # the gaps between fingers
            y = round(centre[1] - axes[1] + finger * 2 * axes[1] / 4)
            cv2.line(out, (centre[0] - axes[0], y), (centre[0] + axes[0], y), (shade * 0.8,) * len(colour), 1)
    elif kind == 1:  # a mask up to the chin and lower lip (light), below the nose, over the nose (strong)
        top = _lerp(strength, mouth[1] + 2 * size[1], nose[1] - 3 * size[1])
        cv2.rectangle(
            out, (round(eyes[0, 0] - 9 * size[0]), round(top)), (round(eyes[1, 0] + 9 * size[0]), image.shape[0]),
            colour, -1,
        )  # fmt: skip
    else:  # glasses: two lenses and a bridge, from nearly clear (light) to dark (strong)
        radius = (round(_lerp(strength, 5, 8) * size[0]), round(_lerp(strength, 4, 6) * size[1]))
        darkness = _lerp(strength, 0.0, 0.9)
        lenses = np.zeros(image.shape[:2], np.uint8)
        for eye in eyes:
            cv2.ellipse(lenses, (round(eye[0]), round(eye[1])), radius, 0, 0, 360, 255, -1, cv2.LINE_AA)
        rims = lenses.copy()
        cv2.line(rims, tuple(np.round(eyes[0]).astype(int)), tuple(np.round(eyes[1]).astype(int)), 255, 2)
        for eye in eyes:
            cv2.ellipse(rims, (round(eye[0]), round(eye[1])), radius, 0, 0, 360, 255, 1, cv2.LINE_AA)
        weight = np.maximum(lenses.astype(np.float32) / 255.0 * darkness, (rims > lenses) * 0.9)
        weight = weight.reshape(image.shape[:2] + (1,) * (image.ndim - 2))
        out = np.clip(out * (1.0 - weight) + 20.0 * weight, 0, 255).astype(np.uint8)
    return out


Corruption = Callable[[np.ndarray, float, np.random.Generator, float], np.ndarray]
FAMILIES: dict[str, Corruption] = {
    "noise": noise,
    "low_light": low_light,
    "jpeg": jpeg,
    "defocus": defocus,
    "motion": motion,
    "low_resolution": low_resolution,
    "contrast": contrast,
    "exposure": exposure,
    "framing": framing,
    "occlusion": occlusion,
}
# What a whole camera frame can suffer before detection (framing and occlusion belong to a face).
FRAME_FAMILIES = ("noise", "low_light", "jpeg", "defocus", "motion")


def check_corruption(family: str, severity: str | None = None) -> None:
    """An unknown family or severity name: one error naming the ones there are."""
    if family not in FAMILIES:
        raise EdgeEmotionError(f"unknown corruption {family!r}; use one of {', '.join(FAMILIES)}")
    if severity is not None and severity not in SEVERITIES:
        raise EdgeEmotionError(f"unknown severity {severity!r}; use one of {', '.join(SEVERITIES)}")


def corrupt(images: np.ndarray, family: str, severity: str, seed: int, scale: float = 1.0) -> np.ndarray:
    """Every picture in ``images`` (N, H, W[, 3]) uint8 under ``family`` at a named severity, reproducibly."""
    check_corruption(family, severity)
    rng = np.random.default_rng(seed)
    strength = SEVERITIES[severity]
    return np.stack([FAMILIES[family](image, strength, rng, scale) for image in images])


def random_corruptions(
    faces: np.ndarray, rng: np.random.Generator, share: float, families: tuple[str, ...] = tuple(FAMILIES)
) -> np.ndarray:
    """Faces (N, S, S) uint8, ``share`` of them each under one random family at a random strength (0..strong)."""
    out = faces.copy()
    for i in np.flatnonzero(rng.random(len(faces)) < share):
        family = families[rng.integers(len(families))]
        out[i] = FAMILIES[family](faces[i], float(rng.uniform(0.0, 1.0)), rng, faces.shape[1] / INPUT_SIZE)
    return out
