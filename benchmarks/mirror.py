"""What averaging each face with its mirror image (``--mirror``: both in one interpreter call) buys the shipped
models on PublicTest, the split that chooses, and what it costs.

Per model, single crop and mirror-averaged: accuracy against FER2013's labels and the FER+ majority on all of
PublicTest, the same on a stratified sample under every camera corruption at medium severity (robustness.py's
sets), and faces per second at batch 1 on 2 threads.

    python benchmarks/mirror.py [--faces 1200]
"""

import argparse

import numpy as np
from common import SHARED_FER, batch1_faces_per_second, fer_csv, save
from robustness import corrupted_sets

from edge_emotion.device.engine.classifier import Classifier
from edge_emotion.metrics import score_label_sets
from edge_emotion.preprocess import model_inputs
from edge_emotion.shipped import SHIPPED, shipped_model
from edge_emotion.training.corruptions import FAMILIES
from edge_emotion.training.data import FaceSet, load_faces, stratified_sample
from edge_emotion.training.resolve import load_model


def scores(model: object, faces: FaceSet, mirror: bool) -> dict[str, float]:
    """Accuracy in % against FER2013's labels and the FER+ majority."""
    summary = score_label_sets(model.predict(faces, mirror=mirror), faces.labels, faces.human).summary()
    return {
        "fer2013": round(100 * summary["fer2013_accuracy"], 2),
        "ferplus": round(100 * summary["ferplus_accuracy"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faces", type=int, default=1200, help="stratified PublicTest sample for the corruptions")
    args = parser.parse_args()
    full = load_faces(fer_csv(), "PublicTest", SHARED_FER / "fer2013new.csv")
    sample = stratified_sample(full, args.faces, seed=0)
    sets = {
        name: images for name, images in corrupted_sets(sample, list(FAMILIES), ["medium"]).items() if name != "clean"
    }
    inputs = model_inputs(full.images[:64]).astype(np.float32)
    figures: dict = {"data": "FER2013 PublicTest", "corrupted_faces": args.faces, "models": {}}
    for name in SHIPPED:
        model = load_model(shipped_model(name))
        entry = {}
        for mirror in (False, True):
            corrupted = [
                scores(model, FaceSet(images, sample.targets, sample.source, sample.votes), mirror)
                for images in sets.values()
            ]
            rate = batch1_faces_per_second(Classifier(shipped_model(name), threads=2, mirror=mirror).predict, inputs)
            entry["mirror" if mirror else "single"] = {
                "clean": scores(model, full, mirror),
                "medium_mean": {k: round(float(np.mean([c[k] for c in corrupted])), 2) for k in ("fer2013", "ferplus")},
                "faces_per_second_2_threads": round(rate),
            }
        figures["models"][name] = entry
        for kind, row in entry.items():
            print(
                f"{name:9} {kind:7} clean {row['clean']['fer2013']:6.2f} / {row['clean']['ferplus']:6.2f}   "
                f"medium {row['medium_mean']['fer2013']:6.2f} / {row['medium_mean']['ferplus']:6.2f}   "
                f"{row['faces_per_second_2_threads']} faces/s"
            )
    save("mirror", figures)


if __name__ == "__main__":
    main()
