"""Train an architecture on faces: Adam, categorical cross-entropy, checkpoints every epoch, resume."""

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edge_emotion.atomic import atomic_path, write_json, write_text
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.plots import plot_curves
from edge_emotion.training.data import FaceSet, canonical_split, load_splits
from edge_emotion.training.distill import cached_teacher_probabilities, distilled
from edge_emotion.training.keras_import import import_keras
from edge_emotion.training.members import set_weights
from edge_emotion.training.models import build_model
from edge_emotion.training.pipeline import make_dataset
from edge_emotion.training.run_folder import RunFolder, load_best_model

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")


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


def _recorder(run: RunFolder, state: dict[str, Any]) -> Any:
    """A Keras callback that, after every epoch, saves the last and best models, history and curves."""
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
                with atomic_path(run.best) as temporary:
                    self.model.save(temporary)
            with atomic_path(run.last) as temporary:
                self.model.save(temporary)
            rows = zip(*(state["history"][name] for name in METRICS), strict=False)
            lines = [f"{i + 1}," + ",".join(f"{v:.6g}" for v in row) for i, row in enumerate(rows)]
            write_text(run.history, "\n".join(["epoch," + ",".join(METRICS), *lines]) + "\n")
            plot_curves(state["history"], run.curves)
            write_json(run.state, state)

    return RunRecorder()


def train(config: TrainConfig, out: Path, *, resume: bool = False) -> dict[str, Any]:
    """Train (or resume) the run in ``out`` and return its summary (also written to summary.json)."""
    keras = import_keras()
    run = RunFolder(out)
    if resume:
        if not run.state.is_file() or not run.last.is_file():
            raise EdgeEmotionError(
                f"{out}: nothing to resume (no state.json and last.keras); start it without --resume"
            )
        try:
            config = TrainConfig(**json.loads(run.config.read_text()))
        except TypeError as error:  # written by another version, with flags this one lacks
            raise EdgeEmotionError(f"{run.config}: cannot resume this run's flags ({error})") from None
        state = json.loads(run.state.read_text())
    else:
        if run.config.exists():
            raise EdgeEmotionError(f"{out} already holds a run; use --resume to continue it or another --out")
        state = {"epoch": 0, "seconds": 0.0, "best_val_accuracy": -1.0, "best_epoch": 0, "history": {}}
    # A warm start's weights load before the data, so a wrong --init-from fails fast.
    start = load_best_model(Path(config.init_from))[0].get_weights() if config.init_from and not resume else None
    train_faces, val_faces = load_split_pair(config)
    if config.teachers:
        teacher = cached_teacher_probabilities(list(map(Path, config.teachers)), train_faces, run.teacher_targets)
        train_faces = distilled(train_faces, teacher, config.distill_weight)
    keras.utils.set_random_seed(config.seed + state["epoch"])
    contract = {"seed": config.seed, "low_pass_sigma": config.low_pass}
    train_data = make_dataset(train_faces, config.batch_size, train=True, augment=config.augment, **contract)
    val_data = make_dataset(val_faces, config.batch_size, train=False, augment=False, **contract)
    if resume:
        model = keras.models.load_model(run.last)
    else:
        model = compile_model(config, len(train_data))
        if start is not None:  # a warm start: these weights, a fresh optimizer and a new schedule
            set_weights(model, start, Path(config.init_from))
        write_json(run.config, asdict(config))
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
