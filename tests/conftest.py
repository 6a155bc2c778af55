"""Small generated data and models: no camera, board or data set needed."""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
from fakes import register_tiny_arch, synthetic_faces, write_fer_csv

from edge_emotion.labels import CLASS_NAMES

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
DATA = Path(__file__).parent / "data"
REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013"


@pytest.fixture(autouse=True)
def ctrl_c_handled() -> Iterator[None]:
    """Ctrl-C handled as an interactive shell leaves it: a suite started in a background job (``make test &``,
    ``nohup``) inherits SIGINT ignored, which a run rightly keeps ignored, so the tests that stop a run with
    it would see a run that cannot be stopped."""
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if ignored:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


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
def astronaut() -> Path:
    """A public-domain photograph with one real face (NASA's, as scikit-image ships it), saved as a JPEG."""
    return DATA / "astronaut.jpg"


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    """A tiny int8 model with a dynamic batch and its sidecar, committed: no TensorFlow needed to use it.
    scripts/make_tiny_model.py made it; it tells the generated faces of fakes.synthetic_faces apart."""
    return DATA / "tiny_int8.tflite"


@pytest.fixture(scope="session")
def tiny_batch1_model() -> Path:
    """The same model with its batch fixed at 1, as an Edge TPU model has it."""
    return DATA / "tiny_int8_batch1.tflite"


@pytest.fixture(scope="session")
def real_fer_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real FER2013 CSV, rebuilt from ../shared/data/fer2013; skipped where it is absent."""
    if not (REAL_DATA / "unpack.py").is_file():
        pytest.skip(f"FER2013 not present at {REAL_DATA}")
    pytest.importorskip("PIL", reason="unpack.py needs Pillow")
    target = tmp_path_factory.mktemp("fer") / "fer2013.csv"
    subprocess.run([sys.executable, str(REAL_DATA / "unpack.py"), str(target)], check=True, capture_output=True)
    return target
