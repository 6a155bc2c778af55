"""A shipped model's card: its figures measured once and written into its sidecar under ``card``,
which ``edge-emotion models`` lists and docs/MODEL_CARD.md quotes.

MACs and parameters are read from the graph; PublicTest (the split that chose the model) and
PrivateTest (scored once per shipped model) give accuracy, macro-F1, per-class recall and the
confusion matrix, single crop, against FER2013's labels and against the FER+ majority of ten
annotators (faces whose majority is contempt, unknown or not-a-face left out, counted); faces/s
is one face per interpreter call, on 1 and 2 threads. Robustness to camera conditions is
``robustness.py``'s, in its own results file.

    python benchmarks/model_card.py fast|accurate [--ferplus ../shared/data/fer2013/fer2013new.csv]
"""

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
from common import SHARED_FER, batch1_faces_per_second, fer_csv, save
from model_cost import cost

from edge_emotion.device.engine.classifier import Classifier
from edge_emotion.metadata import write_metadata
from edge_emotion.metrics import score_label_sets
from edge_emotion.preprocess import model_inputs
from edge_emotion.shipped import SHIPPED, shipped_model
from edge_emotion.training.data import load_faces
from edge_emotion.training.resolve import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name", choices=list(SHIPPED))
    parser.add_argument("--ferplus", type=Path, default=SHARED_FER / "fer2013new.csv")
    args = parser.parse_args()
    model = shipped_model(args.name)
    loaded = load_model(model)
    card: dict = {**cost(model)}
    for split in ("PublicTest", "PrivateTest"):
        faces = load_faces(fer_csv(), split, args.ferplus)
        both = score_label_sets(loaded.predict(faces), faces.labels, faces.human)
        key = split.lower()
        for label, scores in (("", both.fer2013), ("_ferplus", both.ferplus)):
            card[f"{key}{label}_accuracy"] = round(scores.accuracy, 4)
            card[f"{key}{label}_macro_f1"] = round(scores.macro_f1, 4)
            if key == "privatetest":
                card[f"privatetest{label}_recall"] = {k: round(v, 4) for k, v in scores.recall.items()}
                card[f"privatetest{label}_confusion"] = scores.confusion.tolist()
        card[f"{key}_ferplus_faces"] = int(both.ferplus.confusion.sum())
        card[f"{key}_ferplus_left_out"] = both.left_out
    inputs = model_inputs(load_faces(fer_csv(), "PublicTest").images[:64])
    for threads in (1, 2):
        rate = batch1_faces_per_second(Classifier(model, threads=threads).predict, inputs.astype(np.float32))
        card[f"faces_per_second_{threads}_thread{'s' if threads > 1 else ''}"] = round(rate)
    write_metadata(model, replace(loaded.model.metadata, card=card))
    save(f"model_card_{args.name}", {"model": model.name, **card})


if __name__ == "__main__":
    main()
