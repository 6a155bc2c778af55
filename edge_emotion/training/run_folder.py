"""A training run's folder: where each artifact lives, its checkpoint with the run's state, and its best model.

The checkpoint ``last.keras`` carries the run's state (epoch, best epoch, history) inside
its zip, so the two are written by one rename and can never disagree; everything else in
the folder is derived from it and rewritten on resume.
"""

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_emotion.atomic import atomic_path, reading
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.training.config import TrainConfig, load_config
from edge_emotion.training.models import build_float32

STATE_ENTRY = "edge_emotion_state.json"  # the run's state, inside the checkpoint's zip (Keras ignores it)
STATE_TYPES: dict[str, type | tuple[type, ...]] = {
    "epoch": int,
    "seconds": (int, float),
    "best_val_accuracy": (int, float),
    "best_epoch": int,
}
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")  # the history's columns, per epoch


@dataclass(frozen=True)
class RunFolder:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def last(self) -> Path:
        return self.root / "last.keras"

    @property
    def best(self) -> Path:
        return self.root / "best.keras"

    @property
    def history(self) -> Path:
        return self.root / "history.csv"

    @property
    def curves(self) -> Path:
        return self.root / "curves.png"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def log(self) -> Path:
        """What the run printed: what it loaded, its progress and its epochs, appended to by each stretch."""
        return self.root / "train.log"

    @property
    def teacher_targets(self) -> Path:
        return self.root / "teacher.npy"

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.config, self.last, self.best, self.history, self.curves, self.summary, self.teacher_targets)

    @property
    def started(self) -> bool:
        """Whether an epoch was saved; a run killed in its first epoch has a config and nothing else."""
        return self.last.is_file()

    @property
    def start_over_hint(self) -> str:
        return f"continue from its best model with: edge-emotion train --init-from {self.root} --out NEW_FOLDER"

    def check(self) -> None:
        """An error naming the folder unless it holds a run with a model: its flags and a saved epoch."""
        if not self.config.is_file() or not (self.best.is_file() or self.last.is_file()):
            raise EdgeEmotionError(
                f"{self.root} is not a training run (no config.json and best.keras); "
                "make one with: edge-emotion train --out DIR"
            )

    def read_config(self) -> TrainConfig:
        """The resolved training flags, checked; an error naming the folder when it is not a run."""
        self.check()
        return load_config(self.config, allow_unknown=True)

    def save_checkpoint(self, model: Any, state: dict[str, Any]) -> None:
        """``last.keras`` with ``state`` inside it: one rename commits an epoch."""
        with atomic_path(self.last) as temporary:
            model.save(temporary)
            with zipfile.ZipFile(temporary, "a") as archive:
                archive.writestr(STATE_ENTRY, json.dumps(state))

    def read_state(self) -> dict[str, Any]:
        """The state saved with the last checkpoint, checked."""
        with reading(self.last, f"the run cannot resume; {self.start_over_hint}"), zipfile.ZipFile(self.last) as zipped:
            state = json.loads(zipped.read(STATE_ENTRY).decode())
            if not isinstance(state, dict):
                raise ValueError("not a JSON object")
            wrong = [k for k, kind in STATE_TYPES.items() if not isinstance(state.get(k), kind)]
            if wrong or state["epoch"] < 1:
                raise ValueError(f"missing or wrong {', '.join(wrong) or 'epoch'}")
            history = state.get("history")
            if not isinstance(history, dict) or any(len(history.get(m) or ()) != state["epoch"] for m in METRICS):
                raise ValueError(f"its history does not hold {state['epoch']} epochs of {', '.join(METRICS)}")
        return state


def new_state() -> dict[str, Any]:
    """The state of a run before its first epoch."""
    return {"epoch": 0, "seconds": 0.0, "best_val_accuracy": -1.0, "best_epoch": 0, "history": {}}


def load_best_model(root: Path) -> tuple[Any, TrainConfig]:
    """The run's best-on-validation model in float32, whatever precision it trained in, and its config.

    The architecture is rebuilt from the registry and the weights loaded into it, so a
    model trained in mixed bfloat16 comes back as a plain float32 graph for conversion.
    (``resolve.load_model`` takes any model path: a run, a member, a .keras or .tflite file.)
    """
    run = RunFolder(root)
    config = run.read_config()
    model = build_float32(config.arch)
    weights = run.best if run.best.is_file() else run.last
    with reading(weights, "the file is damaged: train the run again, or restore it from a copy"):
        model.load_weights(weights)
    return model, config
