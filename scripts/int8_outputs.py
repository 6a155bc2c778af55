"""Print the shipped (or given) model's outputs on fixed 48x48 faces as JSON, for comparing machines.

The faces go straight into the interpreter (no resize, no detector), so two machines that
print the same JSON run the int8 model identically, bit for bit.

    python scripts/int8_outputs.py FACES.npy [MODEL.tflite] > outputs.json

Both the default kernels (XNNPACK, as `run` uses them) and TFLite's built-in kernels without
XNNPACK (``reference=True``) are reported, so a difference between machines can be told apart
from a difference between kernel sets.
"""

import json
import logging
import sys
from pathlib import Path

import numpy as np

from edge_emotion.device.engine.classifier import Classifier, quantize
from edge_emotion.preprocess import scale
from edge_emotion.shipped import shipped_model


def main() -> None:
    # Let LiteRT's native "Created TensorFlow Lite XNNPACK delegate" line through to stderr (edge_emotion
    # hides it unless verbose): check_aarch64.sh reads it there to tell that XNNPACK ran.
    logging.getLogger("edge_emotion").setLevel(logging.INFO)
    faces = np.load(sys.argv[1])
    model = Path(sys.argv[2]) if len(sys.argv) > 2 else shipped_model()
    results = {}
    for kernels, reference in (("xnnpack", False), ("reference", True)):
        classifier = Classifier(model, threads=1, reference=reference)
        probabilities = classifier.predict(scale(faces))
        raw = quantize(probabilities, classifier.output).astype(int)  # back to the int8 output tensor
        results[kernels] = {"int8_outputs": raw.tolist(), "labels": probabilities.argmax(axis=1).tolist()}
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
