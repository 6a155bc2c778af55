"""Which committed members make the accurate model: forward selection on PublicTest within a budget.

Every member in members/ predicts PublicTest once (single crop, float32); members are added
one at a time while the mean of their probabilities gets more accurate and their MACs stay
within the budget that the target speed allows (1,000 faces/s at batch 1 on 2 threads: an
ensemble of 259 M MACs ran at 300 effective GMAC/s here, benchmarks/model_cost.py, so about
300 M; 270 M keeps a tenth in hand) and their int8 weights within 3 MB. The students' teacher
is chosen the same way without a budget. PrivateTest is not read: it scores the shipped model once.

    python benchmarks/choose_ensemble.py [--max-macs 270e6]

``--robust`` chooses for what a user meets instead: each candidate (the members, and any run or
member folder given with --candidate) predicts a stratified sample of PublicTest clean and under
every camera corruption at medium severity (``robustness.py``'s faces and seeds); the selection
maximises accuracy over the corrupted faces on FER2013's labels and the FER+ majority together.

    python benchmarks/choose_ensemble.py --robust [--candidate RUN ...] [--candidates-only] [--limit 1200]
        [--floor 0.70] [--cache DIR] [--name NAME]

With ``--floor``, every ensemble of up to four candidates within the budget is scored instead, and the
best over the corrupted faces is chosen among those whose clean accuracy on FER2013's labels over all of
PublicTest is at least the floor: the rule the shipped models are chosen by when their targets are missed.

With ``--cache DIR``, each candidate's probabilities are kept in DIR, named by its weights' digest and the
sampled faces' digest, so a later choice among more candidates predicts only the new ones.

With ``--incumbent NAME`` (once per member of the shipped ensemble, each among the candidates), the chosen
ensemble's lead over it under corruption is reported with a 95 % interval from a paired bootstrap over the
sampled faces: a lead whose interval holds zero is within the sample's noise, and the shipped model stays.
"""

import argparse
import hashlib
import itertools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from common import SHARED_FER, fer_csv, save
from robustness import corrupted_sets

from edge_emotion.atomic import atomic_path
from edge_emotion.metrics import score_label_sets
from edge_emotion.training.corruptions import FAMILIES
from edge_emotion.training.data import FaceSet, load_faces, stratified_sample
from edge_emotion.training.members import choose_ensemble, is_member
from edge_emotion.training.resolve import load_model

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


def robust_views(model: object, faces: FaceSet, sets: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The model's probabilities on every set of faces (clean, each corruption at medium)."""
    return {
        name: model.predict(FaceSet(images, faces.targets, faces.source, faces.votes)) for name, images in sets.items()
    }


def digest(folder: Path) -> str:
    """A digest of a run's or member's weights (its .npz, .keras and .h5 files): what its predictions depend on."""
    hashed = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.suffix in {".npz", ".keras", ".h5"}:
            hashed.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return hashed.hexdigest()[:16]


def faces_digest(faces: FaceSet) -> str:
    """A digest of the sampled faces, their labels and their FER+ votes: a changed data file changes it."""
    hashed = hashlib.sha256()
    for array in (faces.images, faces.targets, faces.votes):
        if array is not None:
            hashed.update(np.ascontiguousarray(array).tobytes())
    return hashed.hexdigest()[:12]


def candidate_predictions(
    folder: Path, faces: FaceSet, sets: dict[str, np.ndarray], full: FaceSet | None, cache: Path | None
) -> tuple[dict[str, np.ndarray], np.ndarray | None, int, int]:
    """A candidate's probabilities on every set (and all of PublicTest with ``full``), its MACs and parameters;
    from ``cache`` when it holds them for these weights and these faces, else computed (and kept there)."""
    kept = None if cache is None else cache / f"{folder.name}-{digest(folder)}-{faces_digest(faces)}.npz"
    stored = {key: key.replace("/", "_") for key in sets}  # an .npz entry's name cannot hold "/"
    if kept is not None and kept.is_file():
        with np.load(kept) as saved:
            if all(name in saved for name in stored.values()) and (full is None or "whole" in saved):
                views = {key: saved[name] for key, name in stored.items()}
                return views, saved["whole"] if full is not None else None, int(saved["macs"]), int(saved["params"])
    model = load_model(folder)
    views = robust_views(model, faces, sets)
    whole = None if full is None else model.predict(full)
    cost, size = macs(model.model), model.model.count_params()
    if kept is not None:
        kept.parent.mkdir(parents=True, exist_ok=True)
        extra = {} if whole is None else {"whole": whole}
        with atomic_path(kept) as temporary, temporary.open("wb") as file:
            np.savez(file, macs=cost, params=size, **extra, **{stored[key]: v for key, v in views.items()})
    return views, whole, cost, size


def robust_stack(views: dict[str, np.ndarray], faces: FaceSet) -> tuple[np.ndarray, np.ndarray]:
    """The corrupted sets' probabilities stacked twice, against FER2013's labels and the FER+ majority, so
    that accuracy on the stack is the mean over corruptions and both label sets."""
    kept = faces.human >= 0
    corrupted = [p for name, p in views.items() if name != "clean"]
    probabilities = np.concatenate([np.concatenate([p, p[kept]]) for p in corrupted])
    labels = np.tile(np.concatenate([faces.labels, faces.human[kept]]), len(corrupted))
    return probabilities, labels


def per_face(probabilities: np.ndarray, labels: np.ndarray, faces: FaceSet) -> tuple[np.ndarray, np.ndarray]:
    """Right answers and judgments per sampled face in a ``robust_stack``: its blocks, one per corruption, hold
    every face against FER2013's label and then the faces with a FER+ majority against it."""
    kept = np.flatnonzero(faces.human >= 0)
    blocks = (probabilities.argmax(1) == labels).reshape(-1, len(faces) + len(kept))
    right = blocks[:, : len(faces)].sum(0).astype(float)
    right[kept] += blocks[:, len(faces) :].sum(0)
    judged = np.full(len(faces), float(len(blocks)))
    judged[kept] += len(blocks)
    return right, judged


def lead(
    chosen: np.ndarray, incumbent: np.ndarray, labels: np.ndarray, faces: FaceSet, draws: int = 2000
) -> dict[str, object]:
    """The chosen ensemble's lead over the incumbent (points, both stacked the same way) with a 95 % interval:
    faces drawn again with replacement, the same faces for both, so what they share cancels out."""
    (right_a, judged), (right_b, _) = per_face(chosen, labels, faces), per_face(incumbent, labels, faces)
    draw = np.random.default_rng(0).integers(0, len(faces), (draws, len(faces)))
    differences = (right_a[draw].sum(1) - right_b[draw].sum(1)) / judged[draw].sum(1)
    low, high = np.percentile(differences, [2.5, 97.5])
    return {
        "lead_points": round(100 * float((right_a.sum() - right_b.sum()) / judged.sum()), 2),
        "interval95_points": [round(100 * float(low), 2), round(100 * float(high), 2)],
    }


def choose_robust(args: argparse.Namespace) -> None:
    publictest = load_faces(fer_csv(), "PublicTest", SHARED_FER / "fer2013new.csv")
    faces = stratified_sample(publictest, args.limit, seed=0)
    sets = corrupted_sets(faces, list(FAMILIES), ["medium"])
    members = [] if args.candidates_only else sorted(p for p in MEMBERS.iterdir() if is_member(p))
    folders = members + [Path(c) for c in args.candidate]
    missing = sorted(set(args.incumbent) - {folder.name for folder in folders})
    if missing:
        raise SystemExit(f"error: --incumbent {', '.join(missing)} is not among the candidates")
    full = publictest if args.floor is not None else None
    views, costs, sizes, rows, stacked, whole = {}, {}, {}, {}, {}, {}
    for folder in folders:
        name = folder.name
        views[name], predicted, costs[name], sizes[name] = candidate_predictions(folder, faces, sets, full, args.cache)
        if predicted is not None:
            whole[name] = predicted
        stacked[name], labels = robust_stack(views[name], faces)
        rows[name] = {"macs": costs[name], "params": sizes[name], **figures(views[name], faces)}
        print(name, rows[name], flush=True)

    def fits(names: Sequence[str]) -> bool:
        return sum(costs[n] for n in names) <= args.max_macs and sum(sizes[n] for n in names) <= MAX_BYTES

    found: dict = {}
    if full is None:
        chosen = choose_ensemble(stacked, labels, fits)
    else:
        chosen, found = best_above_floor(stacked, labels, whole, full.labels, fits, args.floor)
    mean_views = {key: np.mean([views[n][key] for n in chosen], axis=0) for key in sets}
    if args.incumbent:
        chosen_mean, incumbent_mean = (
            np.mean([stacked[n] for n in names], axis=0) for names in (chosen, args.incumbent)
        )
        found["incumbent"] = {"members": sorted(args.incumbent), **lead(chosen_mean, incumbent_mean, labels, faces)}
    save(
        args.name,
        {
            "split": "PublicTest", "faces": len(faces), "severity": "medium", "max_macs": args.max_macs,
            "candidates": rows, "chosen": chosen, "chosen_macs": sum(costs[n] for n in chosen),
            "chosen_params": sum(sizes[n] for n in chosen), "chosen_figures": figures(mean_views, faces), **found,
        },
    )  # fmt: skip


def best_above_floor(
    stacked: dict[str, np.ndarray],
    labels: np.ndarray,
    whole: dict[str, np.ndarray],
    whole_labels: np.ndarray,
    fits: Callable[[tuple[str, ...]], bool],
    floor: float,
) -> tuple[list[str], dict]:
    """Every ensemble of up to four within the budget: the best on the corrupted faces (both label sets) among
    those at or above ``floor`` on FER2013's labels over all of PublicTest, clean; and the ten best of them."""
    scored = []
    for size in range(1, 5):
        for names in itertools.combinations(sorted(stacked), size):
            if not fits(names):
                continue
            clean = float((np.mean([whole[n] for n in names], axis=0).argmax(1) == whole_labels).mean())
            if clean >= floor:
                corrupted = float((np.mean([stacked[n] for n in names], axis=0).argmax(1) == labels).mean())
                scored.append((corrupted, clean, list(names)))
    if not scored:
        raise SystemExit(f"no ensemble within the budget reaches {floor} on FER2013's labels, clean")
    scored.sort(key=lambda row: -row[0])
    best = [
        {"members": n, "corrupted_both_label_sets": round(c, 4), "clean_fer2013": round(f, 4)} for c, f, n in scored
    ]
    return scored[0][2], {"floor": floor, "ensembles_above_floor": len(scored), "best_above_floor": best[:10]}


def figures(views: dict[str, np.ndarray], faces: FaceSet) -> dict[str, object]:
    """Clean and mean-over-corruptions accuracy on both label sets."""
    scores = {name: score_label_sets(p, faces.labels, faces.human).summary() for name, p in views.items()}
    corrupted = [s for name, s in scores.items() if name != "clean"]
    by_family = {
        name.split("/")[0]: [s["fer2013_accuracy"], s["ferplus_accuracy"]]
        for name, s in scores.items()
        if name != "clean"
    }
    return {
        "clean_fer2013": scores["clean"]["fer2013_accuracy"],
        "clean_ferplus": scores["clean"]["ferplus_accuracy"],
        "medium_fer2013": round(float(np.mean([s["fer2013_accuracy"] for s in corrupted])), 4),
        "medium_ferplus": round(float(np.mean([s["ferplus_accuracy"] for s in corrupted])), 4),
        "medium_by_family": by_family,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-macs", type=float, default=270e6)
    parser.add_argument("--robust", action="store_true", help="choose on both label sets under camera corruptions")
    parser.add_argument("--candidate", action="append", default=[], help="with --robust: a run folder to consider too")
    parser.add_argument("--candidates-only", action="store_true", help="with --robust: not the committed members")
    parser.add_argument("--limit", type=int, default=1200, help="with --robust: PublicTest faces sampled")
    parser.add_argument(
        "--floor", type=float, help="with --robust: every ensemble of up to four, at least this on FER2013's labels"
    )
    parser.add_argument("--cache", type=Path, help="with --robust: keep each candidate's probabilities here")
    parser.add_argument(
        "--incumbent", action="append", default=[], help="with --robust: a member of the shipped ensemble (by name)"
    )
    parser.add_argument("--name", default="choose_ensemble", help="results file name")
    args = parser.parse_args()
    if args.robust:
        choose_robust(args)
        return
    faces = load_faces(fer_csv(), "PublicTest")
    probabilities, costs, sizes, rows = {}, {}, {}, {}
    for folder in sorted(p for p in MEMBERS.iterdir() if is_member(p)):
        member = load_model(folder)
        probabilities[folder.name] = member.predict(faces)
        costs[folder.name], sizes[folder.name] = macs(member.model), member.model.count_params()
        accuracy = float((probabilities[folder.name].argmax(1) == faces.labels).mean())
        rows[folder.name] = {"arch": member.config.arch, "macs": costs[folder.name], "params": sizes[folder.name],
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
        args.name,
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
