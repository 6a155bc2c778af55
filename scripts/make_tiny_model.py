"""Regenerate tests/data/tiny_int8.tflite and tiny_int8_batch1.tflite, each with its sidecar JSON.

The device tests run on these instead of a model trained during the test session, so they need no
TensorFlow and run on a device. Both come from one tiny CNN (tests/fakes.py's ``tiny-test``
architecture, about 5,000 weights) trained for 12 epochs on the generated faces of tests/fakes.py
(a bright bar at a height per class), then converted to int8 by ``edge-emotion convert``'s own code,
calibrated on those faces: ``tiny_int8`` with a dynamic batch, ``tiny_int8_batch1`` with the batch
fixed at 1 as for the Edge TPU. It is made with TensorFlow (the train extra), once:

    python scripts/make_tiny_model.py

Rerun it only when the model format or the sidecar changes on purpose, and commit the four files.
"""

import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))

from fakes import register_tiny_arch, write_fer_csv  # noqa: E402

from edge_emotion.convert.export import convert  # noqa: E402
from edge_emotion.training.config import TrainConfig  # noqa: E402
from edge_emotion.training.fit import train  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        data = write_fer_csv(Path(work) / "fer.csv", {"Training": 30, "PublicTest": 8, "PrivateTest": 8})
        run = Path(work) / "run"
        config = TrainConfig(
            data=str(data), arch=register_tiny_arch(), epochs=12, batch_size=16, learning_rate=3e-3, augment=False
        )
        train(config=config, out=run)
        for name, edgetpu in (("tiny_int8", False), ("tiny_int8_batch1", True)):
            out = TESTS / "data" / f"{name}.tflite"
            convert(sources=run, out=out, mode="int8", data=data, calibration_faces=70, edgetpu=edgetpu, force=True)
            print(f"{out}: {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
