"""Print the shipped (or given) model's outputs on fixed 48x48 faces as JSON, for comparing machines.

The faces go straight into the interpreter (no resize, no detector), so two machines that
print the same JSON run the int8 model identically, bit for bit.

    python scripts/int8_outputs.py FACES.npy [MODEL.tflite] > outputs.json
"""

import json
import sys
from pathlib import Path

import numpy as np

from edge_emotion.device.classifier import Classifier
from edge_emotion.device.recognizer import shipped_model
from edge_emotion.preprocess import scale


def main() -> None:
    faces = np.load(sys.argv[1])
    classifier = Classifier(Path(sys.argv[2]) if len(sys.argv) > 2 else shipped_model(), threads=1)
    probabilities = classifier.predict(scale(faces))
    scale_, zero_point = classifier.output["quantization"]
    raw = np.round(probabilities / scale_ + zero_point).astype(int)  # back to the int8 output tensor
    json.dump({"int8_outputs": raw.tolist(), "labels": probabilities.argmax(axis=1).tolist()}, sys.stdout)


if __name__ == "__main__":
    main()
