"""Alignment to FER2013's framing: the template is what was measured, and one warp undoes a face's
scale, roll and place in a frame, from five landmarks or from a box."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_emotion.device.engine.detector import YuNetDetector
from edge_emotion.preprocess import FER_BOX, FER_LANDMARKS, align_face, face_matrix, pixel_centres, resize_face

pytestmark = pytest.mark.device  # no TensorFlow: run in the device install too

MEASURED = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "face_template.json"


@pytest.fixture(scope="module")
def texture() -> np.ndarray:
    """A 48x48 'face' with detail at every scale, so a half-pixel error shows."""
    noise = np.random.default_rng(0).integers(0, 256, (48, 48)).astype(np.float32)
    return cv2.normalize(cv2.GaussianBlur(noise, (0, 0), 1.5), None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def placed(face: np.ndarray, angle: float, zoom: float, centre: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """A 640x480 frame holding ``face`` turned, scaled and moved, and the 2x3 matrix that put it there."""
    matrix = cv2.getRotationMatrix2D((23.5, 23.5), angle, zoom)
    matrix[:, 2] += np.array(centre) - (23.5, 23.5)
    frame = cv2.warpAffine(face, matrix, (640, 480), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return frame, matrix


def inner_error(crop: np.ndarray, face: np.ndarray) -> float:
    return float(np.abs(crop.astype(int) - face)[4:-4, 4:-4].mean())


def test_the_template_is_what_was_measured_on_fer2013() -> None:
    measured = json.loads(MEASURED.read_text())
    medians = [point["median"] for point in measured["yunet"]["landmarks_48px"].values()]
    np.testing.assert_allclose(FER_LANDMARKS, medians, atol=0.01)
    np.testing.assert_allclose(FER_BOX, measured["haar"]["box_48px_centre_x_y_width"]["median"], atol=0.01)


@pytest.mark.parametrize(("angle", "zoom"), [(0, 3.0), (15, 2.5), (-20, 4.5), (8, 1.3)])
def test_landmarks_undo_roll_scale_and_place(texture: np.ndarray, angle: float, zoom: float) -> None:
    frame, matrix = placed(texture, angle, zoom, (300, 220))
    landmarks = np.c_[FER_LANDMARKS, np.ones(5)] @ matrix.T  # where the template's points landed
    crop = align_face(frame, (0, 0, 1, 1), landmarks)
    assert crop.shape == (48, 48) and crop.dtype == np.uint8
    # the anti-alias blur costs a grey level or two; half a pixel off costs 9
    assert inner_error(crop, texture) < 3.5
    assert inner_error(align_face(frame, (0, 0, 1, 1), landmarks + matrix[:, 0] / 2), texture) > 6


def laplacian_energy(face: np.ndarray) -> float:
    return float(np.mean(cv2.Laplacian(face.astype(np.float32), cv2.CV_32F)[4:-4, 4:-4] ** 2))


@pytest.mark.parametrize("zoom", [2.0, 3.0, 4.0])
def test_aligned_faces_are_as_sharp_as_area_resized_ones(zoom: float) -> None:
    """Both detectors' crops reach the model equally sharp: the warp's anti-alias is INTER_AREA's worth,
    neither aliased (no blur) nor as soft as the half input pixel it once was."""
    size = round(48 * zoom)
    noise = np.random.default_rng(1).integers(0, 256, (size, size)).astype(np.float32)
    detail = cv2.normalize(cv2.GaussianBlur(noise, (0, 0), 1.0), None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    frame = cv2.copyMakeBorder(detail, 100, 100, 100, 100, cv2.BORDER_REFLECT)
    box = (100, 100, size, size)
    landmarks = framing(box)
    area = laplacian_energy(resize_face(detail))
    assert 0.8 < laplacian_energy(align_face(frame, box, landmarks)) / area < 1.25
    assert laplacian_energy(align_face(frame, box, landmarks, anti_alias=0.5)) < 0.6 * area
    assert laplacian_energy(align_face(frame, box, landmarks, anti_alias=0.0)) > 1.5 * area


def framing(box: tuple[int, int, int, int]) -> np.ndarray:
    """Landmarks that frame ``box`` as FER2013 frames its square: the template scaled onto the box."""
    x, y, w, _ = box
    return FER_LANDMARKS * (w / 48) + (x, y)


def test_eyes_come_out_level_from_a_tilted_real_face(astronaut: Path) -> None:
    portrait = cv2.imread(str(astronaut))
    tilted = cv2.warpAffine(portrait, cv2.getRotationMatrix2D((223, 120), 20, 1.0), portrait.shape[1::-1])
    (face,) = YuNetDetector().detect(tilted)
    eyes = cv2.transform(np.array([face.landmarks[:2]], np.float32), face_matrix(face.box, face.landmarks))[0]
    assert abs(eyes[0, 1] - eyes[1, 1]) < 1.5
    np.testing.assert_allclose(eyes, FER_LANDMARKS[:2], atol=2.5)


def test_a_box_maps_onto_fer2013s_square(texture: np.ndarray) -> None:
    zoom = 2.0  # FER_BOX's 46.5 px width becomes 93 frame pixels, a whole box
    frame, matrix = placed(texture, 0, zoom, (320, 240))
    centre_x, centre_y = matrix @ (FER_BOX[0], FER_BOX[1], 1)
    width = round(FER_BOX[2] * zoom)
    box = (round(centre_x + 0.5 - width / 2), round(centre_y + 0.5 - width / 2), width, width)
    assert inner_error(align_face(frame, box), texture) < 3.5
    assert inner_error(align_face(frame, (box[0] + 2, *box[1:])), texture) > 6


def test_faces_at_and_beyond_the_frame_edge_fill_the_input() -> None:
    frame = np.random.default_rng(1).integers(50, 200, (120, 160, 3)).astype(np.uint8)
    for box in [(-30, -30, 80, 80), (140, 100, 60, 60), (-500, -500, 50, 50)]:
        crop = align_face(frame, box)
        assert crop.shape == (48, 48) and crop.min() >= 50  # replicated border, never black
    assert align_face(frame, (10, 10, 90, 90), size=64).shape == (64, 64)


def test_points_keep_their_place_when_an_image_is_rescaled() -> None:
    # pixel 0 of an image halved in size covers pixels 0 and 1 of the full one: its centre is at 0.5
    np.testing.assert_allclose(pixel_centres([[0, 0], [3, 1]], 2.0), [[0.5, 0.5], [6.5, 2.5]])
    np.testing.assert_allclose(pixel_centres(pixel_centres([[7.3, 2.0]], 4.0), 0.25), [[7.3, 2.0]])
