"""A training run's folder: where each artifact lives, and loading its best model back."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_emotion.errors import EdgeEmotionError


@dataclass(frozen=True)
class RunFolder:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def state(self) -> Path:
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
    def teacher_targets(self) -> Path:
        return self.root / "teacher.npy"

    def read_config(self) -> dict[str, Any]:
        """The resolved training flags; an error naming the folder when it is not a run."""
        if not self.config.is_file() or not (self.best.is_file() or self.last.is_file()):
            raise EdgeEmotionError(
                f"{self.root} is not a training run (no config.json and best.keras); "
                "make one with: edge-emotion train --out DIR"
            )
        return json.loads(self.config.read_text())


def load_best_model(root: Path) -> tuple[Any, dict[str, Any]]:
    """The run's (or member's) best-on-validation model in float32, whatever precision it trained in, and its config.

    The architecture is rebuilt from the registry and the weights loaded into it, so a
    model trained in mixed bfloat16 comes back as a plain float32 graph for conversion.
    """
    from edge_emotion.training.keras_import import import_keras
    from edge_emotion.training.members import is_member, load_member
    from edge_emotion.training.models import build_model

    if is_member(root):
        return load_member(root)

    run = RunFolder(root)
    config = run.read_config()
    keras = import_keras()
    keras.mixed_precision.set_global_policy("float32")
    model = build_model(config["arch"])
    try:
        model.load_weights(run.best if run.best.is_file() else run.last)
    except (OSError, ValueError) as error:
        raise EdgeEmotionError(f"{root}: cannot load its model ({error})") from None
    return model, config
