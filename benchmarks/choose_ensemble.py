"""Which committed members make the accurate model: forward selection on PublicTest within a budget.

Every member in members/ predicts PublicTest once (single crop, float32); members are added
one at a time while the mean of their probabilities gets more accurate and their MACs stay
within the budget that the target speed allows (1,000 faces/s at batch 1 on 2 threads: an
ensemble of 259 M MACs ran at 300 effective GMAC/s here, benchmarks/model_cost.py, so about
300 M; 270 M keeps a tenth in hand) and their int8 weights within 3 MB. The students' teacher
is chosen the same way without a budget. PrivateTest is not read: it scores the shipped model once.

    python benchmarks/choose_ensemble.py [--max-macs 270e6]
"""

import argparse
from pathlib import Path

import numpy as np
from common import fer_csv, save

from edge_emotion.data import load_faces
from edge_emotion.resolve import load_model
from edge_emotion.training.members import choose_ensemble, is_member

MEMBERS = Path(__file__).resolve().parents[1] / "members"
MAX_BYTES = 3_000_000  # int8 weights: about a byte per parameter


def macs(model: object) -> int:
    """Multiply-accumulates per face of the Conv2D and Dense layers (what the int8 graph computes)."""
    total = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            _, height, width, channels = layer.output.shape
            total += height * width * channels * int(np.prod(layer.kernel.shape[:-1]))
        elif kind == "Dense":
            total += int(np.prod(layer.kernel.shape))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-macs", type=float, default=270e6)
    args = parser.parse_args()
    faces = load_faces(fer_csv(), "PublicTest")
    probabilities, costs, sizes, rows = {}, {}, {}, {}
    for folder in sorted(p for p in MEMBERS.iterdir() if is_member(p)):
        member = load_model(folder)
        probabilities[folder.name] = member.predict(faces)
        costs[folder.name], sizes[folder.name] = macs(member.model), member.model.count_params()
        accuracy = float((probabilities[folder.name].argmax(1) == faces.labels).mean())
        rows[folder.name] = {"arch": member.config["arch"], "macs": costs[folder.name], "params": sizes[folder.name],
                             "publictest_accuracy": round(accuracy, 4)}  # fmt: skip
        print(folder.name, rows[folder.name], flush=True)
    # MACs bound the speed; with a byte per int8 weight the parameters bound the size.
    chosen = choose_ensemble(
        probabilities,
        faces.labels,
        lambda names: sum(costs[n] for n in names) <= args.max_macs and sum(sizes[n] for n in names) <= MAX_BYTES,
    )
    teacher = choose_ensemble(probabilities, faces.labels)

    def accuracy(names: list[str]) -> float:
        return round(float((np.mean([probabilities[n] for n in names], axis=0).argmax(1) == faces.labels).mean()), 4)

    save(
        "choose_ensemble",
        {
            "split": "PublicTest",
            "max_macs": args.max_macs,
            "members": rows,
            "chosen": chosen,
            "chosen_macs": sum(costs[name] for name in chosen),
            "chosen_params": sum(sizes[name] for name in chosen),
            "chosen_publictest_accuracy": accuracy(chosen),
            "teacher": teacher,
            "teacher_publictest_accuracy": accuracy(teacher),
            "all_members_publictest_accuracy": accuracy(list(probabilities)),
        },
    )


if __name__ == "__main__":
    main()
