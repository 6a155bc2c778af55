"""A shipped model's card: its figures measured once and written into its sidecar under ``card``,
which ``edge-emotion models`` lists and docs/MODEL_CARD.md quotes.

MACs and parameters are read from the graph; PublicTest (the split that chose the model) and
PrivateTest (scored once per shipped model) give accuracy, macro-F1, per-class recall and the
confusion matrix, single crop; FER+ PrivateTest (majority of the ten votes) is a second
figure; faces/s is one face per interpreter call, on 1 and 2 threads.

    python benchmarks/model_card.py fast|accurate [--ferplus ../shared/data/fer2013/fer2013new.csv]
"""

import argparse
import json
from pathlib import Path

import numpy as np
from common import SHARED_FER, batch1_faces_per_second, fer_csv, save
from model_cost import cost

from edge_emotion.atomic import write_json
from edge_emotion.data import load_faces
from edge_emotion.device.classifier import Classifier
from edge_emotion.metrics import score
from edge_emotion.preprocess import model_inputs
from edge_emotion.resolve import load_model
from edge_emotion.shipped import SHIPPED, shipped_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name", choices=list(SHIPPED))
    parser.add_argument("--ferplus", type=Path, default=SHARED_FER / "fer2013new.csv")
    args = parser.parse_args()
    model = shipped_model(args.name)
    loaded = load_model(model)
    card: dict = {**cost(model)}
    for split, ferplus in (("PublicTest", None), ("PrivateTest", None), ("PrivateTest", args.ferplus)):
        faces = load_faces(fer_csv(), split, ferplus)
        scores = score(loaded.predict(faces), faces.labels)
        key = f"{split.lower()}{'_ferplus' if ferplus else ''}"
        card[f"{key}_accuracy"] = round(scores.accuracy, 4)
        card[f"{key}_macro_f1"] = round(scores.macro_f1, 4)
        if key == "privatetest":
            card["privatetest_recall"] = {k: round(v, 4) for k, v in scores.recall.items()}
            card["privatetest_confusion"] = scores.confusion.tolist()
    inputs = model_inputs(load_faces(fer_csv(), "PublicTest").images[:64])
    for threads in (1, 2):
        rate = batch1_faces_per_second(Classifier(model, threads=threads).predict, inputs.astype(np.float32))
        card[f"faces_per_second_{threads}_thread{'s' if threads > 1 else ''}"] = round(rate)
    sidecar = model.with_suffix(".json")
    write_json(sidecar, {**json.loads(sidecar.read_text()), "card": card})
    save(f"model_card_{args.name}", {"model": model.name, **card})


if __name__ == "__main__":
    main()
