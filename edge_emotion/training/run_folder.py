"""A training run's folder: where each artifact lives, its checkpoint with the run's state, and its best model.

The checkpoint ``last.keras`` carries the run's state (epoch, best epoch, history) inside
its zip, so the two are written by one rename and can never disagree; everything else in
the folder is derived from it and rewritten on resume.
"""

import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edge_emotion.atomic import atomic_path
from edge_emotion.errors import EdgeEmotionError

STATE_ENTRY = "edge_emotion_state.json"  # the run's state, inside the checkpoint's zip (Keras ignores it)
STATE_TYPES = {"epoch": int, "seconds": (int, float), "best_val_accuracy": (int, float), "best_epoch": int}
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")  # the history's columns, per epoch


@contextmanager
def reading(path: Path, fix: str) -> Iterator[None]:
    """Any failure to read ``path`` becomes one error naming it and the fix.

    Keras, zipfile, h5py and json raise many kinds of exception for a damaged file.
    """
    try:
        yield
    except EdgeEmotionError:
        raise
    except Exception as error:
        lines = str(error).strip().splitlines()
        detail = f"{type(error).__name__}: {lines[0][:160]}" if lines else type(error).__name__
        if path.suffix == ".keras" and path.is_file() and not zipfile.is_zipfile(path):
            detail = "not a zip archive: damaged or cut short"
        raise EdgeEmotionError(f"{path}: cannot read it ({detail}); {fix}") from None


@dataclass(frozen=True)
class RunFolder:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def state(self) -> Path:
        """Where runs before the state moved into the checkpoint kept it; read only to resume them."""
        return self.root / "state.json"

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

    def read_config(self) -> dict[str, Any]:
        """The resolved training flags, checked; an error naming the folder when it is not a run."""
        from edge_emotion.training.fit import load_config

        if not self.config.is_file() or not (self.best.is_file() or self.last.is_file()):
            raise EdgeEmotionError(
                f"{self.root} is not a training run (no config.json and best.keras); "
                "make one with: edge-emotion train --out DIR"
            )
        return asdict(load_config(self.config, allow_unknown=True))

    def save_checkpoint(self, model: Any, state: dict[str, Any]) -> None:
        """``last.keras`` with ``state`` inside it: one rename commits an epoch."""
        with atomic_path(self.last) as temporary:
            model.save(temporary)
            with zipfile.ZipFile(temporary, "a") as archive:
                archive.writestr(STATE_ENTRY, json.dumps(state))

    def read_state(self) -> dict[str, Any]:
        """The state saved with the last checkpoint (or, for older runs, in state.json), checked."""
        with reading(self.last, f"the run cannot resume; {self.start_over_hint}"), zipfile.ZipFile(self.last) as zipped:
            inside = STATE_ENTRY in zipped.namelist()
            text = zipped.read(STATE_ENTRY).decode() if inside else None
        source = self.last if inside else self.state
        with reading(source, f"the run cannot resume; {self.start_over_hint}"):
            state = json.loads(text if inside else self.state.read_text())
            if not isinstance(state, dict):
                raise ValueError("not a JSON object")
            wrong = [k for k, kind in STATE_TYPES.items() if not isinstance(state.get(k), kind)]
            if wrong or state["epoch"] < 1:
                raise ValueError(f"missing or wrong {', '.join(wrong) or 'epoch'}")
            history = state.get("history")
            if not isinstance(history, dict) or any(len(history.get(m) or ()) != state["epoch"] for m in METRICS):
                raise ValueError(f"its history does not hold {state['epoch']} epochs of {', '.join(METRICS)}")
        return state


def load_best_model(root: Path) -> tuple[Any, dict[str, Any]]:
    """The run's best-on-validation model in float32, whatever precision it trained in, and its config.

    The architecture is rebuilt from the registry and the weights loaded into it, so a
    model trained in mixed bfloat16 comes back as a plain float32 graph for conversion.
    (``resolve.load_model`` takes any model path: a run, a member, a .keras or .tflite file.)
    """
    from edge_emotion.tf_import import import_keras
    from edge_emotion.training.models import build_model

    run = RunFolder(root)
    config = run.read_config()
    keras = import_keras()
    keras.mixed_precision.set_global_policy("float32")
    model = build_model(config["arch"])
    weights = run.best if run.best.is_file() else run.last
    with reading(weights, "the file is damaged: train the run again, or restore it from a copy"):
        model.load_weights(weights)
    return model, config
