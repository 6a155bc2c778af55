from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edge_emotion.cli import app
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.training.augment import Jitter, random_affine
from edge_emotion.training.corruptions import (
    FAMILIES,
    FRAME_FAMILIES,
    SEVERITIES,
    corrupt,
    random_corruptions,
)


def faces(count: int = 24) -> np.ndarray:
    """Smooth, face-like uint8 pictures with detail at every scale (a gradient, blobs, edges)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:48, 0:48]
    base = 60 + 2 * x + y
    out = []
    for _ in range(count):
        blobs = sum(
            rng.uniform(30, 80) * np.exp(-((x - rng.uniform(8, 40)) ** 2 + (y - rng.uniform(8, 40)) ** 2) / 30)
            for _ in range(4)
        )
        edges = 40 * ((x // 6 + y // 6) % 2)
        out.append(np.clip(base + blobs + edges, 0, 255).astype(np.uint8))
    return np.stack(out)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_family_grows_with_severity_and_is_reproducible(family: str) -> None:
    clean = faces()
    changes = []
    for severity in SEVERITIES:
        out = corrupt(clean, family, severity, seed=5)
        assert out.shape == clean.shape and out.dtype == np.uint8
        assert np.array_equal(out, corrupt(clean, family, severity, seed=5))
        changes.append(np.abs(out.astype(float) - clean).mean())
    assert 0 < changes[0] < changes[2], changes
    assert changes[1] <= changes[2] * 1.05, changes


@pytest.mark.parametrize("family", FRAME_FAMILIES)
def test_whole_colour_frames_take_the_frame_families(family: str) -> None:
    frame = np.dstack([faces(1)[0]] * 3).repeat(8, axis=0).repeat(8, axis=1)  # 384x384 BGR
    out = corrupt(frame[np.newaxis], family, "medium", seed=1, scale=8.0)[0]
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert not np.array_equal(out, frame)


def test_unknown_family_or_severity_is_one_error() -> None:
    with pytest.raises(EdgeEmotionError, match="unknown corruption 'fog'; use one of noise"):
        corrupt(faces(1), "fog", "medium", seed=0)
    with pytest.raises(EdgeEmotionError, match="unknown severity 'extreme'; use one of light, medium, strong"):
        corrupt(faces(1), "noise", "extreme", seed=0)


def test_random_corruptions_touch_the_share_asked_for() -> None:
    clean = faces(200)
    assert np.array_equal(random_corruptions(clean, np.random.default_rng(0), 0.0), clean)
    corrupted = random_corruptions(clean, np.random.default_rng(0), 0.5)
    changed = [not np.array_equal(a, b) for a, b in zip(corrupted, clean, strict=True)]
    assert 0.35 < np.mean(changed) < 0.6


def test_jitter_corrupts_before_its_resampling() -> None:
    inputs = (faces(64).astype(np.float32) / 255)[..., np.newaxis]
    plain = random_affine(inputs, np.random.default_rng(3), Jitter(flip=False, degrees=0, zoom=0, shift=0))
    assert np.allclose(plain, inputs, atol=1e-5)  # no jitter: the faces come back as they were
    corrupted = random_affine(
        inputs, np.random.default_rng(3), Jitter(flip=False, degrees=0, zoom=0, shift=0, corrupt=1.0)
    )
    assert corrupted.shape == inputs.shape and corrupted.min() >= 0 and corrupted.max() <= 1
    differ = np.abs(corrupted - inputs).reshape(64, -1).max(axis=1) > 1 / 255
    assert differ.mean() > 0.8


def test_jitter_occludes_the_share_asked_for_on_top_of_corruptions() -> None:
    inputs = (faces(200).astype(np.float32) / 255)[..., np.newaxis]
    still = Jitter(flip=False, degrees=0, zoom=0, shift=0)
    occluded = random_affine(inputs, np.random.default_rng(4), replace(still, occlude=0.5))
    changed = np.abs(occluded - inputs).reshape(200, -1).max(axis=1) > 1 / 255
    assert 0.35 < changed.mean() < 0.65
    # what it covers lies on the lower face or the eyes: the forehead's top rows stay as they were
    assert np.allclose(occluded[:, :4], inputs[:, :4], atol=1e-5)
    both = random_affine(inputs, np.random.default_rng(4), replace(still, corrupt=0.5, occlude=0.5))
    assert (np.abs(both - inputs).reshape(200, -1).max(axis=1) > 1 / 255).mean() > changed.mean()


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--ferplus-weight", "1.5"], "the FER+ vote weight must be within 0..1, got 1.5"),
        (["--corrupt", "2"], "--corrupt is the share of faces corrupted, within 0..1, got 2.0"),
        (["--occlude", "-0.1"], "--occlude is the share of faces covered in part, within 0..1, got -0.1"),
    ],
)
def test_train_refuses_a_weight_or_share_outside_0_1_before_reading_data(
    flags: list[str], words: str, fer_csv: Path, tmp_path: Path
) -> None:
    votes = tmp_path / "votes.csv"
    votes.write_text("Usage,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n")
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app, ["train", "--data", str(fer_csv), "--ferplus", str(votes), "--out", str(out), *flags]
    )
    assert isinstance(result.exception, SystemExit) and result.exception.code == 1, result.output
    (line,) = result.stderr.splitlines()
    assert line == f"error: {words}"
    assert not out.exists()
