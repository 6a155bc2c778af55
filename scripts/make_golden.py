"""Regenerate tests/data/shipped_int8_golden.npz: fixed 48x48 faces and the shipped model's int8 outputs.

The faces are drawn (an oval, two eyes, a smiling or frowning mouth) on seeded noise, so they
are the same on every machine; they are stored with the outputs, and the test feeds the stored
faces, so a change in numpy's or OpenCV's drawing cannot move the goldens. Rerun this only when
the shipped model changes on purpose, and commit the new file with the model:

    python scripts/make_golden.py
"""

from pathlib import Path

import cv2
import numpy as np

from edge_emotion.device.engine.classifier import Classifier, quantize
from edge_emotion.preprocess import scale
from edge_emotion.shipped import shipped_model

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "data" / "shipped_int8_golden.npz"


def drawn_faces(count: int = 8, seed: int = 0) -> np.ndarray:
    """``count`` grey 48x48 cartoon faces with random shading, pose of the features and mouth curve."""
    rng = np.random.default_rng(seed)
    faces = []
    for index in range(count):
        face = rng.integers(20, 70, size=(48, 48)).astype(np.uint8)
        centre = (24 + int(rng.integers(-3, 4)), 25 + int(rng.integers(-3, 4)))
        cv2.ellipse(face, centre, (16, 21), 0, 0, 360, int(rng.integers(140, 220)), -1)
        eye_y = centre[1] - 6 + int(rng.integers(-2, 3))
        for dx in (-7, 7):
            cv2.circle(face, (centre[0] + dx, eye_y), int(rng.integers(2, 4)), 30, -1)
        smile = index % 2 == 0  # alternate smiles and frowns
        mouth = (centre[0], centre[1] + (8 if smile else 13))
        cv2.ellipse(face, mouth, (int(rng.integers(5, 9)), 4), 0, 0 if smile else 180, 180 if smile else 360, 40, 2)
        faces.append(face)
    return np.stack(faces)


def main() -> None:
    faces = drawn_faces()
    classifier = Classifier(shipped_model(), threads=1, reference=True)  # the kernels the test checks, see there
    outputs = quantize(classifier.predict(scale(faces)), classifier.output)  # back to the int8 output tensor
    np.savez_compressed(GOLDEN, faces=faces, int8_outputs=outputs)
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
