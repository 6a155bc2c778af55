"""Ensemble members kept in git: the part of a training run that must outlive the machine it ran on.

A run folder holds full Keras checkpoints with optimizer state and lives where it was
written; a member is its best weights (float16 when that measurably changes nothing,
float32 otherwise), the resolved config, history, curves, and the exact commands of
every stretch it was trained in. ``train --init-from MEMBER`` warm-starts the next stretch.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edge_emotion.atomic import atomic_paths, check_writable, copy_file, reading, write_text
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.metrics import agreement, score
from edge_emotion.training.config import TrainConfig, load_config, train_command
from edge_emotion.training.data import FaceSet
from edge_emotion.training.models import build_float32, predict_keras, set_weights
from edge_emotion.training.run_folder import RunFolder, load_best_model
from edge_emotion.training.splits import load_split_pair

MEMBER_FILE = "member.json"
WEIGHTS_FILE = "weights.npz"
FLOAT16_MIN_AGREEMENT = 0.999  # top-1 agreement with float32 on the validation faces to store float16


def is_member(path: Path) -> bool:
    return (path / MEMBER_FILE).is_file()


def _weights_dtype(model: Any, config: TrainConfig) -> tuple[np.dtype, dict[str, float]]:
    """float16 when the float16 weights agree with float32 on the run's validation faces, else float32."""
    _, val = load_split_pair(config)
    assert isinstance(val, FaceSet)  # not streaming: the faces are in memory
    sigma = config.low_pass
    full = predict_keras(model, val, low_pass_sigma=sigma)
    weights = model.get_weights()
    model.set_weights([w.astype(np.float16).astype(np.float32) for w in weights])
    half = predict_keras(model, val, low_pass_sigma=sigma)
    model.set_weights(weights)
    check = {
        "faces": len(val),
        "float32_accuracy": round(score(full, val.labels).accuracy, 4),
        "float16_accuracy": round(score(half, val.labels).accuracy, 4),
        "top1_agreement": agreement(full, half)["top1_agreement"],
    }
    keep_half = check["top1_agreement"] >= FLOAT16_MIN_AGREEMENT
    return np.dtype(np.float16 if keep_half else np.float32), check


def save_member(*, run: Path, out: Path, force: bool = False) -> dict[str, Any]:
    """Write the run's best model as a member in ``out``; a stretch warm-started from ``out`` extends its record.

    The member in ``out`` is refreshed by the run it came from and extended by a run warm-started
    from it; a member of another run is replaced only with ``force``, and a run folder never.
    """
    folder = RunFolder(run)
    check_writable(out)
    earlier = _kept_stretches(run, out, folder.read_config().init_from, force=force)  # before the slow load
    model, config = load_best_model(run)
    with reading(folder.summary, "delete it, or resume the run to write it again"):
        summary = json.loads(folder.summary.read_text()) if folder.summary.is_file() else {}
    dtype, check = _weights_dtype(model, config)
    stretch = {"command": train_command(config) + f" --out {run}", **summary}
    record: dict[str, Any] = {
        "arch": config.arch,
        "low_pass": config.low_pass,
        "params": int(model.count_params()),
        "weights_dtype": dtype.name,
        "float16_check": check,
        "stretches": [*earlier, stretch],
    }
    # The record, the weights and the config describe one model: written as one unit, record last.
    with atomic_paths(out / MEMBER_FILE, out / WEIGHTS_FILE, out / "config.json") as (member, weights, flags):
        with weights.open("wb") as handle:
            np.savez(handle, *[w.astype(dtype) for w in model.get_weights()])
        flags.write_bytes(folder.config.read_bytes())
        member.write_text(json.dumps(record, indent=2) + "\n")
    for name in ("history.csv", "curves.png", "summary.json"):
        if (run / name).is_file():
            copy_file(run / name, out / name)
    write_text(out / "command.txt", "\n".join(s["command"] for s in record["stretches"]) + "\n")
    return record


def _kept_stretches(run: Path, out: Path, init_from: str | None, *, force: bool) -> list[dict[str, Any]]:
    """The stretches of the member in ``out`` that the record of ``run``'s member keeps before its own.

    Refreshed by the run of its last stretch (whose record the new one replaces), it keeps those
    before; extended by a run warm-started from it, all of them; replaced (``force``), none.
    """
    if RunFolder(out).config.is_file() and not is_member(out):
        raise EdgeEmotionError(
            f"{out} holds a training run; a member goes in a folder of its own: choose another --out"
        )
    if not is_member(out):
        return []
    try:
        stretches = list(read_member(out)["stretches"])
        came_from = Path(stretches[-1]["command"].rsplit(" --out ", 1)[1])
    except (EdgeEmotionError, LookupError, TypeError, AttributeError) as error:
        if force:
            return []
        reason = error if isinstance(error, EdgeEmotionError) else f"{out}: a member without the run it came from"
        raise EdgeEmotionError(f"{reason}; pass --force to replace it, or choose another --out") from None
    if came_from.resolve() == run.resolve():
        return stretches[:-1]
    if init_from is not None and Path(init_from).resolve() == out.resolve():
        return stretches
    if force:
        return []
    raise EdgeEmotionError(
        f"{out} holds the member of another run ({came_from}); pass --force to replace it, or choose another --out"
    )


def read_member(path: Path) -> dict[str, Any]:
    try:
        return json.loads((path / MEMBER_FILE).read_text())
    except (OSError, ValueError) as error:
        raise EdgeEmotionError(f"{path}: unreadable member ({error})") from None


def load_member(path: Path) -> tuple[Any, TrainConfig]:
    """The member's model in float32 and its training config."""
    read_member(path)
    config = load_config(path / "config.json", allow_unknown=True)
    with reading(path / WEIGHTS_FILE, "restore the member's files from git"), np.load(path / WEIGHTS_FILE) as stored:
        weights = [stored[f"arr_{i}"].astype(np.float32) for i in range(len(stored.files))]
    model = build_float32(config.arch)
    set_weights(model, weights, path)
    return model, config


def choose_ensemble(
    probabilities: dict[str, np.ndarray], labels: np.ndarray, fits: Callable[[list[str]], bool] = lambda _: True
) -> list[str]:
    """Members added one at a time, each the one that makes the mean of their probabilities most
    accurate on ``labels``, while that gains and the members still ``fits`` (a MAC or size budget).

    Forward selection on the validation split: the split that chooses, never the one that scores.
    """
    chosen: list[str] = []
    best = 0.0
    while True:
        scores = {
            name: float((np.mean([probabilities[n] for n in (*chosen, name)], axis=0).argmax(1) == labels).mean())
            for name in probabilities
            if name not in chosen and fits([*chosen, name])
        }
        if not scores or max(scores.values()) <= best:
            return chosen
        name = max(scores, key=scores.__getitem__)
        chosen.append(name)
        best = scores[name]
