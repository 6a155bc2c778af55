"""Every stage of `edge-emotion run` for each face in a folder of pictures, saved to compare machines.

For each face YuNet finds (the default detector, as ``run`` calls it): its box, score and five
landmarks at full float precision (events round them to 0.1 px), the aligned 48x48 crop, the
quantised, low-passed input tensor, and the int8 outputs of the default kernels (XNNPACK) and of
the built-in ones (``reference=True``). Comparing two machines' files says at which stage a
difference in the events starts.

    python scripts/face_pipeline.py PICTURES_DIR OUT.npz [MODEL.tflite]
"""

import sys
from pathlib import Path

import cv2
import numpy as np

from edge_emotion.device.engine.classifier import Classifier, quantize
from edge_emotion.device.engine.detector import YuNetDetector
from edge_emotion.preprocess import align_face, low_pass, scale, to_gray
from edge_emotion.shipped import shipped_model


def int8_outputs(classifier: Classifier, inputs: np.ndarray) -> np.ndarray:
    """The output tensor's integers behind the classifier's probabilities."""
    return quantize(classifier.predict(inputs), classifier.output).astype(int)


def main() -> None:
    model = Path(sys.argv[3]) if len(sys.argv) > 3 else shipped_model()
    detector = YuNetDetector()
    xnnpack, reference = (Classifier(model, threads=1, reference=r) for r in (False, True))
    sigma = xnnpack.metadata.low_pass_sigma
    found: dict[str, list] = {name: [] for name in ("box", "score", "landmarks", "crop")}
    for path in sorted(Path(sys.argv[1]).glob("*.png")):
        frame = cv2.imread(str(path))
        for detection in detector.detect(frame):
            found["box"].append(detection.box)
            found["score"].append(detection.score)
            found["landmarks"].append(detection.landmarks)
            found["crop"].append(align_face(to_gray(frame), detection.box, detection.landmarks, xnnpack.input_size))
    inputs = scale(np.array(found["crop"], np.uint8))
    np.savez(
        sys.argv[2],
        **{name: np.array(values) for name, values in found.items()},
        input=quantize(low_pass(inputs, sigma), xnnpack.input),
        xnnpack=int8_outputs(xnnpack, inputs),
        reference=int8_outputs(reference, inputs),
    )


if __name__ == "__main__":
    main()
