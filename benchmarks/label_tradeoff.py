"""The trade-off over the FER+ vote weight: runs trained with ``--ferplus-weight W`` (and without
``--corrupt``, for the ablation) scored on PublicTest against FER2013's labels and the FER+ majority,
clean and under every camera corruption at medium severity; a table, a JSON and a picture.

The same corrupted faces as ``robustness.py`` (same seeds); the runs' own flags give each
point's weight and corruption share. The baseline (a model trained on FER2013's labels alone) is a
point at weight 0: pass it with --baseline.

    python benchmarks/label_tradeoff.py RUN [RUN ...] [--baseline MODEL] [--limit 1200]
        [--name label_tradeoff] [--plot ../docs/label_tradeoff.png]
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from common import SHARED_FER, fer_csv, save
from robustness import corrupted_sets, model_table

from edge_emotion.shipped import model_path
from edge_emotion.training.corruptions import FAMILIES
from edge_emotion.training.data import load_faces, stratified_sample
from edge_emotion.training.resolve import load_model


def flags(model: Path) -> dict:
    """The FER+ weight and corruption share a run or member trained with (weight 0 without FER+)."""
    config = model / "config.json"
    if not config.is_file():
        return {"ferplus_weight": 0.0, "corrupt": 0.0}
    saved = json.loads(config.read_text())
    weight = float(saved.get("ferplus_weight", 1.0)) if saved.get("ferplus") else 0.0
    return {"ferplus_weight": weight, "corrupt": float(saved.get("corrupt", 0.0))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--baseline", action="append", default=[], help="a model trained on FER2013's labels alone")
    parser.add_argument("--limit", type=int, default=1200)
    parser.add_argument("--ferplus", type=Path, default=SHARED_FER / "fer2013new.csv")
    parser.add_argument("--name", default="label_tradeoff")
    parser.add_argument("--plot", type=Path, default=Path(__file__).parents[1] / "docs" / "label_tradeoff.png")
    args = parser.parse_args()
    faces = stratified_sample(load_faces(fer_csv(), "PublicTest", args.ferplus), args.limit, seed=0)
    sets = corrupted_sets(faces, list(FAMILIES), ["medium"])
    points = []
    for name in [*args.baseline, *map(str, args.runs)]:
        path = model_path(name)
        table = model_table(load_model(path).predict, faces, sets)
        point = {
            "model": name,
            **flags(path),
            "clean": table["sets"]["clean"],
            "medium_mean": table["means"]["medium"],
            "gaps": table["gaps"],
        }
        points.append(point)
        print(
            f"{name}: weight {point['ferplus_weight']:.2f} corrupt {point['corrupt']:.2f}  clean "
            f"{point['clean']['fer2013_accuracy']:.1%} / {point['clean']['ferplus_accuracy']:.1%}  medium "
            f"{point['medium_mean']['fer2013_accuracy']:.1%} / {point['medium_mean']['ferplus_accuracy']:.1%}"
        )
    save(args.name, {"split": "PublicTest", "faces": len(faces), "severity": "medium", "points": points})
    figure, axes = plt.subplots(figsize=(7, 4.2))
    for key, label, style in (
        ("fer2013_accuracy", "FER2013's label", "-"),
        ("ferplus_accuracy", "FER+ majority", "--"),
    ):
        for where, colour in (("clean", "tab:blue"), ("medium_mean", "tab:orange")):
            chosen = sorted(
                (p for p in points if p["corrupt"] > 0 or p["ferplus_weight"] == 0), key=lambda p: p["ferplus_weight"]
            )
            axes.plot(
                [p["ferplus_weight"] for p in chosen], [100 * p[where][key] for p in chosen], style, marker="o",
                color=colour, label=f"{label}, {'clean' if where == 'clean' else 'corrupted (medium mean)'}",
            )  # fmt: skip
            for p in points:
                if p["corrupt"] == 0 and p["ferplus_weight"] > 0:  # the ablation without --corrupt
                    axes.plot(p["ferplus_weight"], 100 * p[where][key], "x", color=colour, markersize=9)
    axes.set_xlabel("FER+ vote weight in the training target (x: trained without --corrupt)")
    axes.set_ylabel("PublicTest accuracy, %")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(args.plot, dpi=120)
    print(f"saved {args.plot}")


if __name__ == "__main__":
    main()
