"""Neutral calibration on real faces: misread resting faces read neutral after it, smiles still read happy.

    python benchmarks/calibration.py

Each "person" is one FER2013 PublicTest face labelled neutral that the shipped model reads as
something else (a resting face the model misreads). Their "frames" are that face under small
camera wobble (the one-pass jitter of training, seeded): 8 frames calibrate (the person at
rest for a moment), 8 other frames are scored after it. The smiles are every PublicTest face
labelled happy that the model reads as happy without calibration; each person's bias is applied
to all of them (another person's smile under this person's bias is the harder case: a smile
of their own would move further from their resting face). PrivateTest is not used.
"""

from pathlib import Path

import numpy as np
from common import fer_csv, save

from edge_emotion.device.engine.calibration import apply_bias, neutral_bias
from edge_emotion.device.engine.classifier import Classifier
from edge_emotion.labels import CLASS_NAMES
from edge_emotion.preprocess import scale
from edge_emotion.shipped import shipped_model
from edge_emotion.training.augment import Jitter, random_affine
from edge_emotion.training.data import load_faces

NEUTRAL, HAPPY = CLASS_NAMES.index("neutral"), CLASS_NAMES.index("happy")
WOBBLE = Jitter(shift=0.03, degrees=4.0, zoom=0.04, flip=False)  # a person sitting still before a camera
FRAMES = 8


def main() -> None:
    faces = load_faces(fer_csv(), "PublicTest")
    classifier = Classifier(Path(shipped_model()))
    inputs = scale(faces.images)
    raw = classifier.predict(inputs)
    misread = np.flatnonzero((faces.labels == NEUTRAL) & (raw.argmax(1) != NEUTRAL))
    smiles = raw[(faces.labels == HAPPY) & (raw.argmax(1) == HAPPY)]
    rng = np.random.default_rng(0)
    neutral_after, neutral_before, happy_kept, read_as = [], [], [], {}
    for index in misread:
        frames = classifier.predict(random_affine(np.repeat(inputs[index : index + 1], 2 * FRAMES, 0), rng, WOBBLE))
        bias = neutral_bias(frames[:FRAMES], NEUTRAL)
        later = frames[FRAMES:]
        neutral_before.append(np.mean(later.argmax(1) == NEUTRAL))
        neutral_after.append(np.mean(apply_bias(later, bias).argmax(1) == NEUTRAL))
        happy_kept.append(np.mean(apply_bias(smiles, bias).argmax(1) == HAPPY))
        name = CLASS_NAMES[int(raw[index].argmax())]
        read_as[name] = read_as.get(name, 0) + 1
    happy_kept = np.array(happy_kept)
    rest_happy = raw[misread].argmax(1) == HAPPY
    figures = {
        "people": len(misread),
        "misread_as": read_as,
        "frames_calibrated_on": FRAMES,
        "later_frames_read_neutral_before": round(float(np.mean(neutral_before)), 3),
        "later_frames_read_neutral_after": round(float(np.mean(neutral_after)), 3),
        "smiles": len(smiles),
        "smiles_still_happy_after_mean": round(float(np.mean(happy_kept)), 3),
        "smiles_still_happy_after_worst_person": round(float(np.min(happy_kept)), 3),
        # A resting face the model reads as happy is the hard case: calibration must lower happy.
        "smiles_still_happy_rest_read_as_happy": round(float(np.mean(happy_kept[rest_happy])), 3),
        "smiles_still_happy_rest_read_otherwise": round(float(np.mean(happy_kept[~rest_happy])), 3),
    }
    save("calibration", figures)


if __name__ == "__main__":
    main()
