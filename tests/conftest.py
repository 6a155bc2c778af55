"""Small generated data and models: no camera, board or data set needed."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_emotion.labels import CLASS_NAMES

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013"


def synthetic_faces(count_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """48x48 uint8 images whose class shows as a bright bar at a class-specific height, plus noise:
    easy enough for a tiny CNN to learn in a few epochs, so tests can assert it learned."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label in range(len(CLASS_NAMES)):
        for _ in range(count_per_class):
            image = rng.integers(0, 90, size=(48, 48)).astype(np.uint8)
            top = 3 + label * 6
            image[top : top + 5, 4:44] = rng.integers(180, 256)
            images.append(image)
            labels.append(label)
    return np.stack(images), np.array(labels)


def write_fer_csv(path: Path, splits: dict[str, int], seed: int = 0) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for offset, (split, per_class) in enumerate(splits.items()):
            images, labels = synthetic_faces(per_class, seed + offset)
            for image, label in zip(images, labels, strict=True):
                writer.writerow([int(label), " ".join(map(str, image.ravel())), split])
    return path


@pytest.fixture(scope="session")
def fer_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    return write_fer_csv(folder / "fer.csv", {"Training": 30, "PublicTest": 8, "PrivateTest": 8})


@pytest.fixture(scope="session")
def image_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train/<class>/*.png and test/<class>/*.png, the layout of FER2013's image copies."""
    root = tmp_path_factory.mktemp("tree")
    for split, per_class, seed in (("train", 6, 1), ("test", 3, 2)):
        images, labels = synthetic_faces(per_class, seed)
        for index, (image, label) in enumerate(zip(images, labels, strict=True)):
            folder = root / split / CLASS_NAMES[label]
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f"{index}.png"), image)
    return root


def register_tiny_arch() -> str:
    """A test-only architecture added through the registry, as a user would add one (a subprocess can too)."""
    from edge_emotion.preprocess import INPUT_SHAPE
    from edge_emotion.tf_import import import_keras
    from edge_emotion.training.models import register

    def tiny():
        keras = import_keras()
        layers = keras.layers
        return keras.Sequential(
            [
                keras.Input(INPUT_SHAPE),
                layers.Conv2D(8, 3, padding="same", activation="relu"),
                layers.MaxPooling2D(2),
                layers.MaxPooling2D(2),
                layers.Conv2D(16, 3, padding="same", activation="relu"),
                layers.MaxPooling2D(2),
                layers.Flatten(),  # the synthetic classes differ by where a bar is, so keep position
                layers.Dense(len(CLASS_NAMES), activation="softmax", dtype="float32"),
            ],
            name="tiny",
        )

    register("tiny-test")(tiny)
    return "tiny-test"


@pytest.fixture(scope="session")
def tiny_arch() -> str:
    return register_tiny_arch()


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory, fer_csv: Path, tiny_arch: str) -> Path:
    from edge_emotion.training.config import TrainConfig
    from edge_emotion.training.fit import train

    out = tmp_path_factory.mktemp("runs") / "tiny"
    config = TrainConfig(data=str(fer_csv), arch=tiny_arch, epochs=12, batch_size=16, learning_rate=3e-3, augment=False)
    train(config=config, out=out)
    return out


@pytest.fixture(scope="session")
def int8_model(tmp_path_factory: pytest.TempPathFactory, trained_run: Path, fer_csv: Path) -> Path:
    from edge_emotion.convert.export import convert

    out = tmp_path_factory.mktemp("models") / "tiny_int8.tflite"
    convert(sources=trained_run, out=out, mode="int8", data=fer_csv, calibration_faces=70, max_drop=100.0)
    return out


@pytest.fixture(scope="session")
def astronaut(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A public-domain photograph with one real face, shipped by scikit-image."""
    data = pytest.importorskip("skimage.data", reason="scikit-image (the demo extra) ships the test face")
    path = tmp_path_factory.mktemp("faces") / "astronaut.png"
    cv2.imwrite(str(path), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    return path


@pytest.fixture(scope="session")
def real_fer_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real FER2013 CSV, rebuilt from ../shared/data/fer2013; skipped where it is absent."""
    if not (REAL_DATA / "unpack.py").is_file():
        pytest.skip(f"FER2013 not present at {REAL_DATA}")
    pytest.importorskip("PIL", reason="unpack.py needs Pillow")
    target = tmp_path_factory.mktemp("fer") / "fer2013.csv"
    subprocess.run([sys.executable, str(REAL_DATA / "unpack.py"), str(target)], check=True, capture_output=True)
    return target
