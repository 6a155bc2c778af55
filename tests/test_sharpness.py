"""The sharpness part of the contract: low-pass, sharp jitter, and a model's sigma reaching every consumer."""

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_emotion.device.engine.classifier import Classifier
from edge_emotion.preprocess import low_pass, model_inputs
from edge_emotion.training.augment import Jitter, random_affine

SHIPPED = Path(__file__).parents[1] / "edge_emotion" / "models" / "emotion_int8.tflite"


def detail(faces: np.ndarray) -> float:
    """Mean squared Laplacian: how much fine detail the faces keep."""
    return float(np.mean([np.mean(cv2.Laplacian(f, cv2.CV_32F)[4:-4, 4:-4] ** 2) for f in faces[..., 0]]))


@pytest.fixture
def textured() -> np.ndarray:
    """Faces with detail at every scale: noise over a few bars, in 0..1."""
    rng = np.random.default_rng(0)
    faces = rng.random((16, 48, 48, 1)).astype(np.float32) * 0.5
    faces[:, 10:14] += 0.4
    return faces


@pytest.mark.device
def test_low_pass_zero_is_identity_and_a_sigma_softens(textured: np.ndarray) -> None:
    assert low_pass(textured, 0.0) is textured
    soft = low_pass(textured, 0.7)
    assert soft.shape == textured.shape and soft.dtype == np.float32
    assert detail(soft) < 0.3 * detail(textured)
    assert soft.mean() == pytest.approx(textured.mean(), abs=0.01)  # blur moves no brightness


@pytest.mark.device
def test_low_pass_takes_faces_with_or_without_a_channel_axis(textured: np.ndarray) -> None:
    with_axis = low_pass(textured, 0.6)
    without = low_pass(textured[..., 0], 0.6)
    np.testing.assert_allclose(with_axis[..., 0], without)


@pytest.mark.device
def test_model_inputs_are_scaled_faces_blurred_by_the_sigma() -> None:
    """uint8 faces become float32 (N, 48, 48, 1) in 0..1, blurred after scaling (blurring the uint8 faces
    first would round them) by a Gaussian of the sigma with the border replicated; sigma 0 blurs nothing."""
    images = np.random.default_rng(1).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    plain = model_inputs(images)
    assert plain.shape == (3, 48, 48, 1) and plain.dtype == np.float32
    np.testing.assert_allclose(plain[..., 0], images / 255, atol=1e-7)
    soft = model_inputs(images, 0.6)
    assert soft.shape == (3, 48, 48, 1) and soft.dtype == np.float32
    by_hand = [
        cv2.GaussianBlur(face / np.float32(255), (0, 0), 0.6, borderType=cv2.BORDER_REPLICATE) for face in images
    ]
    np.testing.assert_allclose(soft[..., 0], np.stack(by_hand), atol=1e-6)


def test_one_pass_jitter_keeps_faces_sharp(textured: np.ndarray) -> None:
    jittered = random_affine(textured, np.random.default_rng(0))
    assert jittered.shape == textured.shape and jittered.min() >= 0.0 and jittered.max() <= 1.0
    assert not np.allclose(jittered, textured)
    # Three chained bilinear resamplings leave about a fifth of the detail; one Lanczos pass keeps most.
    assert detail(jittered) > 0.6 * detail(textured)


def test_jitter_without_change_is_identity_and_flip_mirrors(textured: np.ndarray) -> None:
    still = Jitter(shift=0.0, degrees=0.0, zoom=0.0, flip=False)
    np.testing.assert_allclose(random_affine(textured, np.random.default_rng(0), still), textured, atol=1e-5)
    flips = random_affine(textured, np.random.default_rng(3), replace(still, flip=True))
    mirrored = [np.allclose(f, t[:, ::-1], atol=1e-5) for f, t in zip(flips, textured, strict=True)]
    unchanged = [np.allclose(f, t, atol=1e-5) for f, t in zip(flips, textured, strict=True)]
    assert all(m or u for m, u in zip(mirrored, unchanged, strict=True)) and any(mirrored) and any(unchanged)


def test_blur_softens_about_half_the_faces_and_no_more_than_its_sigma(textured: np.ndarray) -> None:
    faces = np.repeat(textured, 8, axis=0)  # 128 faces
    still = Jitter(shift=0.0, degrees=0.0, zoom=0.0, flip=False)
    soft = random_affine(faces, np.random.default_rng(0), replace(still, blur=1.0))
    kept = np.array([detail(face[None]) / detail(original[None]) for face, original in zip(soft, faces, strict=True)])
    assert 0.35 < np.mean(kept > 0.99) < 0.65  # about half untouched
    assert kept.min() > detail(low_pass(faces[:1], 1.0)) / detail(faces[:1]) - 0.01  # none softer than sigma 1
    assert soft.mean() == pytest.approx(faces.mean(), abs=0.01)


def test_jitter_is_seeded(textured: np.ndarray) -> None:
    first = random_affine(textured, np.random.default_rng(5))
    np.testing.assert_array_equal(first, random_affine(textured, np.random.default_rng(5)))
    assert not np.allclose(first, random_affine(textured, np.random.default_rng(6)))


def test_classifier_low_passes_as_its_metadata_says(textured: np.ndarray) -> None:
    plain = Classifier(SHIPPED)
    assert plain.metadata.low_pass_sigma == 0.0  # the shipped model learned from sharp faces (one-pass jitter)
    softened = Classifier(SHIPPED, metadata=replace(plain.metadata, low_pass_sigma=0.7))
    np.testing.assert_allclose(softened.predict(textured), plain.predict(low_pass(textured, 0.7)), atol=1e-6)
    assert not np.allclose(softened.predict(textured), plain.predict(textured), atol=1e-3)


def test_convert_carries_the_runs_sigma(fer_csv: Path, tiny_arch: str, tmp_path: Path) -> None:
    from edge_emotion.convert.export import convert
    from edge_emotion.training.config import TrainConfig
    from edge_emotion.training.fit import train

    run = tmp_path / "soft"
    train(config=TrainConfig(data=str(fer_csv), arch=tiny_arch, epochs=2, batch_size=32, low_pass=0.8), out=run)
    assert json.loads((run / "config.json").read_text())["low_pass"] == 0.8
    out = tmp_path / "soft.tflite"
    metadata = convert(sources=run, out=out, mode="int8", data=fer_csv, calibration_faces=35, max_drop=100.0).metadata
    assert metadata.low_pass_sigma == 0.8
    assert json.loads(out.with_suffix(".json").read_text())["low_pass_sigma"] == 0.8
    # Checked as the device feeds it: the int8 model agrees with the float one on low-passed faces.
    assert metadata.check["top1_agreement"] >= 0.9
