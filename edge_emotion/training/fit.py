"""Train an architecture: Adam, categorical cross-entropy, a checkpoint every epoch, resume."""

import json
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from edge_emotion.atomic import check_writable, copy_file, remove_partials, write_json, write_text
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.plots import plot_curves
from edge_emotion.training.data import FaceSet, canonical_split, load_splits
from edge_emotion.training.distill import cached_teacher_probabilities, distilled
from edge_emotion.training.keras_import import import_keras
from edge_emotion.training.members import set_weights
from edge_emotion.training.models import build_model
from edge_emotion.training.pipeline import make_dataset
from edge_emotion.training.run_folder import METRICS, RunFolder, load_best_model, reading


@dataclass(frozen=True)
class TrainConfig:
    """Every flag that shapes a run; saved as config.json so the run can be reproduced and resumed."""

    data: str
    arch: str = "seed"
    train_split: str = "Training"
    val_split: str = "PublicTest"
    ferplus: str | None = None
    soft_labels: bool = False
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-3
    schedule: str = "constant"
    label_smoothing: float = 0.0
    weight_decay: float = 0.0
    augment: bool = True
    low_pass: float = 0.0
    precision: str = "float32"
    teachers: tuple[str, ...] = ()
    distill_weight: float = 0.5
    init_from: str | None = None
    seed: int = 0


# What each TrainConfig field may hold in config.json, and how to say so.
JSON_TYPES: dict[Any, tuple[tuple[type, ...], str]] = {
    bool: ((bool,), "true or false"),
    int: ((int,), "an integer"),
    float: ((int, float), "a number"),
    str: ((str,), "a string"),
    str | None: ((str, type(None)), "a string or null"),
    tuple[str, ...]: ((list,), "a list of strings"),
}


def load_config(path: Path, *, allow_unknown: bool = False) -> TrainConfig:
    """A run's config.json, every flag checked against its type.

    ``allow_unknown`` passes over flags of another version, which is enough to load a model
    but not to resume: a flag this version lacks would shape the rest of the run.
    """
    fix = "restore the file, or train the run again in a new --out"
    with reading(path, fix):
        data = json.loads(path.read_text())
    if not isinstance(data, dict) or "data" not in data:
        raise EdgeEmotionError(f"{path}: not a run's flags (a JSON object with data, arch, ...); {fix}")
    known = {field.name: field.type for field in fields(TrainConfig)}
    unknown = sorted(set(data) - set(known))
    if unknown and not allow_unknown:
        raise EdgeEmotionError(
            f"{path}: cannot resume this run's flags ({', '.join(unknown)}: written by another version)"
        )
    values = {}
    for name in [name for name in data if name in known]:
        value, (kinds, expected) = data[name], JSON_TYPES[known[name]]
        strings = all(isinstance(item, str) for item in value) if isinstance(value, list) else True
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds) or not strings:
            raise EdgeEmotionError(f"{path}: {name} is {json.dumps(value)}, expected {expected}; {fix}")
        values[name] = tuple(value) if isinstance(value, list) else float(value) if known[name] is float else value
    return TrainConfig(**values)


def command_flag(name: str, value: Any) -> str:
    """The ``train`` flag that sets TrainConfig field ``name`` to ``value``."""
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return flag if value else f"--no-{flag[2:]}"
    if isinstance(value, list | tuple):
        return " ".join(f"--teacher {item}" for item in value)
    return f"{flag} {value}"


def load_split_pair(config: TrainConfig) -> tuple[FaceSet, FaceSet]:
    """The training and validation faces the config names, each checked to be non-empty."""
    data = Path(config.data)
    ferplus = Path(config.ferplus) if config.ferplus else None
    splits = [config.train_split, config.val_split]
    loaded = load_splits(data, splits, ferplus, config.soft_labels)
    train, val = (loaded[canonical_split(s)] for s in splits)
    if train.source == val.source:
        raise EdgeEmotionError(
            f"{config.data}: {config.train_split} and {config.val_split} are the same faces; "
            "give the data train/ and val/ (or test/) folders"
        )
    for name, faces in ((config.train_split, train), (config.val_split, val)):
        if len(faces) == 0:
            raise EdgeEmotionError(f"{config.data}: split {name} has no faces")
    return train, val


def _learning_rate(config: TrainConfig, steps_per_epoch: int) -> Any:
    keras = import_keras()
    if config.schedule == "constant":
        return config.learning_rate
    if config.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(config.learning_rate, config.epochs * steps_per_epoch)
    raise EdgeEmotionError(f"unknown schedule {config.schedule!r}; use constant or cosine")


def compile_model(config: TrainConfig, steps_per_epoch: int) -> Any:
    keras = import_keras()
    if config.precision not in ("float32", "mixed_bfloat16"):
        raise EdgeEmotionError(f"unknown precision {config.precision!r}; use float32 or mixed_bfloat16")
    keras.mixed_precision.set_global_policy(config.precision)
    model = build_model(config.arch)
    model.compile(
        optimizer=keras.optimizers.Adam(
            _learning_rate(config, steps_per_epoch), weight_decay=config.weight_decay or None
        ),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy"],
    )
    return model


def _write_derived(run: RunFolder, state: dict[str, Any]) -> None:
    """What follows from the checkpoint's state: best.keras when the last epoch is the best, history and curves.

    Rewritten after every checkpoint and again on resume, so a kill between them loses nothing.
    """
    if state["best_epoch"] == state["epoch"]:
        copy_file(run.last, run.best)
    rows = zip(*(state["history"][name] for name in METRICS), strict=False)
    lines = [f"{i + 1}," + ",".join(f"{v:.6g}" for v in row) for i, row in enumerate(rows)]
    write_text(run.history, "\n".join(["epoch," + ",".join(METRICS), *lines]) + "\n")
    plot_curves(state["history"], run.curves)


def _recorder(run: RunFolder, state: dict[str, Any]) -> Any:
    """A Keras callback that saves the checkpoint with the run's state after every epoch, then what follows from it."""
    keras = import_keras()

    class RunRecorder(keras.callbacks.Callback):
        def on_train_begin(self, logs: dict | None = None) -> None:
            self.started = time.monotonic()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = dict(logs or {})
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            for name in METRICS:
                state["history"].setdefault(name, []).append(float(logs.get(name, "nan")))
            state["epoch"] = epoch + 1
            state["seconds"] += time.monotonic() - self.started
            self.started = time.monotonic()
            if logs["val_accuracy"] > state["best_val_accuracy"]:
                state.update(best_val_accuracy=logs["val_accuracy"], best_epoch=epoch + 1)
            run.save_checkpoint(self.model, state)
            run.state.unlink(missing_ok=True)  # an older run's state.json, now behind the checkpoint
            _write_derived(run, state)

    return RunRecorder()


def train(config: TrainConfig, out: Path) -> dict[str, Any]:
    """Start the run in ``out`` and return its summary (also written to summary.json).

    A folder whose run never saved an epoch (killed in its first) starts over with ``config``.
    """
    run = RunFolder(out)
    if run.started:
        raise EdgeEmotionError(f"{out} already holds a run; continue it with --resume, or use another --out")
    check_writable(out)
    run.teacher_targets.unlink(missing_ok=True)  # cached for the attempt that never saved an epoch
    return _fit(config, run, None)


def resume(out: Path, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Continue the run in ``out`` with its saved flags; a run killed before it saved an epoch starts again.

    ``given`` holds flags set again (those on the command line): each must equal the saved
    one, except ``epochs``, which moves the end of a constant-schedule run (a cosine
    schedule's length is part of its optimizer) and cannot go below the epochs done; before
    the first epoch is saved, ``epochs`` may change whatever the schedule.
    """
    run = RunFolder(out)
    if not run.config.is_file():
        raise EdgeEmotionError(f"{out}: nothing to resume (no config.json); start it without --resume")
    saved = load_config(run.config)
    config = _resumed_config(saved, dict(given or {}), out, started=run.started)
    state = run.read_state() if run.started else None
    if state and config.epochs < state["epoch"]:
        raise EdgeEmotionError(f"{out}: the run has trained {state['epoch']} epochs; --epochs cannot be fewer")
    check_writable(out)
    if config != saved:
        write_json(run.config, asdict(config))
    return _fit(config, run, state)


def _resumed_config(saved: TrainConfig, given: dict[str, Any], out: Path, *, started: bool) -> TrainConfig:
    """The saved config, with ``epochs`` from ``given`` where the schedule allows; other flags must agree."""
    epochs = given.pop("epochs", saved.epochs)
    differ = [
        f"{command_flag(name, value)} (the run has {command_flag(name, getattr(saved, name)) or 'none'})"
        for name, value in given.items()
        if value != getattr(saved, name)
    ]
    if differ:
        raise EdgeEmotionError(
            f"{out}: --resume keeps the run's flags; leave out {', '.join(differ)}, or start a new run in another --out"
        )
    if epochs != saved.epochs and saved.schedule != "constant" and started:
        raise EdgeEmotionError(
            f"{out}: its {saved.schedule} schedule was fixed at {saved.epochs} epochs when it started; "
            f"to train on, start a new run from it: edge-emotion train --init-from {out} --out NEW_FOLDER"
        )
    return replace(saved, epochs=epochs)


def _fit(config: TrainConfig, run: RunFolder, state: dict[str, Any] | None) -> dict[str, Any]:
    """Train ``config`` in ``run`` from ``state`` (None: from scratch) to its last epoch; the run's summary."""
    keras = import_keras()
    remove_partials(run.files)
    fresh = state is None
    state = state or {"epoch": 0, "seconds": 0.0, "best_val_accuracy": -1.0, "best_epoch": 0, "history": {}}
    # A warm start's weights load before the data, so a wrong --init-from fails fast.
    start = load_best_model(Path(config.init_from))[0].get_weights() if config.init_from and fresh else None
    train_faces, val_faces = load_split_pair(config)
    if config.teachers:
        teacher = cached_teacher_probabilities(list(map(Path, config.teachers)), train_faces, run.teacher_targets)
        train_faces = distilled(train_faces, teacher, config.distill_weight)
    keras.utils.set_random_seed(config.seed + state["epoch"])
    contract = {"seed": config.seed, "low_pass_sigma": config.low_pass}
    train_data = make_dataset(train_faces, config.batch_size, train=True, augment=config.augment, **contract)
    val_data = make_dataset(val_faces, config.batch_size, train=False, augment=False, **contract)
    if fresh:
        model = compile_model(config, len(train_data))
        if start is not None:  # a warm start: these weights, a fresh optimizer and a new schedule
            set_weights(model, start, Path(config.init_from))
        write_json(run.config, asdict(config))
    else:
        with reading(run.last, f"the run cannot resume; {run.start_over_hint}"):
            model = keras.models.load_model(run.last)
        _write_derived(run, state)
    if state["epoch"] < config.epochs:
        model.fit(
            train_data,
            validation_data=val_data,
            epochs=config.epochs,
            initial_epoch=state["epoch"],
            callbacks=[_recorder(run, state)],
            shuffle=False,  # the tf.data pipeline reshuffles every epoch itself
            verbose=1 if sys.stdout.isatty() else 2,
        )
    summary = {
        "arch": config.arch,
        "params": int(model.count_params()),
        "data": config.data,
        "train_faces": len(train_faces),
        "val_faces": len(val_faces),
        "val_split": config.val_split,
        "seed": config.seed,
        "epochs": state["epoch"],
        "seconds": round(state["seconds"], 1),
        "seconds_per_epoch": round(state["seconds"] / max(state["epoch"], 1), 1),
        "best_epoch": state["best_epoch"],
        "best_val_accuracy": round(state["best_val_accuracy"], 4),
    }
    write_json(run.summary, summary)
    return summary
