"""What a training run tells the person watching: what it loaded, then a line every few batches with the time left.

The lines are printed and appended to the run folder's ``train.log``, the same whether or not
the output is a terminal (Keras' own ``verbose=2`` says nothing until an epoch ends).
"""

import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edge_emotion.atomic import write_errors
from edge_emotion.labels import CLASS_NAMES
from edge_emotion.training.tf_import import import_keras

LINES_PER_EPOCH = 4  # progress lines within an epoch, before the line that closes it


class TrainLog:
    """Prints a line and appends it to ``path`` (the run's train.log). Lines said before the run folder
    exists wait for it, so a run that fails before it starts leaves no folder behind."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.waiting: list[str] = []

    def __call__(self, line: str) -> None:
        print(line, flush=True)
        self.waiting.append(line)
        if self.path.parent.is_dir():
            with write_errors(self.path), self.path.open("a", encoding="utf-8") as handle:
                handle.write("".join(f"{waiting}\n" for waiting in self.waiting))
            self.waiting.clear()


def duration(seconds: float) -> str:
    """0:42, 12:05 or 3:02:10."""
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def faces_line(split: str, faces: Any) -> str:
    """``Training: 28,709 faces from fer2013.csv:Training (angry 3,995, disgust 436, ...)``."""
    counts = np.bincount(faces.labels, minlength=len(CLASS_NAMES))
    classes = ", ".join(f"{name} {count:,}" for name, count in zip(CLASS_NAMES, counts, strict=True))
    return f"{split}: {len(faces):,} faces from {faces.source} ({classes})"


def progress(say: Callable[[str], None], state: dict[str, Any]) -> Any:
    """A Keras callback that says, a few times an epoch, how far it is, its running loss and accuracy, and
    the time left in the epoch and in the run; then each epoch's scores, the best epoch so far
    (from the run's ``state``, kept by the recorder that runs before it) and the time left."""
    callback: Any = import_keras().callbacks.Callback  # a base class only once Keras is imported

    class Progress(callback):
        def on_train_begin(self, logs: dict | None = None) -> None:
            self.durations: list[float] = []

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch, self.started = epoch, time.monotonic()

        def _left(self, epoch_seconds: float) -> float:
            """Seconds for the epochs after this one, at the pace of those done so far."""
            per_epoch = statistics.mean(self.durations) if self.durations else epoch_seconds
            return per_epoch * (self.params["epochs"] - self.epoch - 1)

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            steps, done = self.params.get("steps") or 0, batch + 1
            if not steps or done >= steps or done % math.ceil(steps / (LINES_PER_EPOCH + 1)):
                return
            logs = logs or {}
            pace = (time.monotonic() - self.started) / done
            in_epoch = pace * (steps - done)
            say(
                f"epoch {self.epoch + 1}/{self.params['epochs']}  batch {done}/{steps}  "
                f"loss {float(logs.get('loss', np.nan)):.4f}  accuracy {float(logs.get('accuracy', np.nan)):.4f}  "
                f"left: {duration(in_epoch)} in this epoch, {duration(in_epoch + self._left(pace * steps))} in all"
            )

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            seconds = time.monotonic() - self.started
            self.durations.append(seconds)
            scores = "  ".join(
                f"{name} {float(value):.4f}" for name, value in (logs or {}).items() if name != "learning_rate"
            )
            say(
                f"epoch {epoch + 1}/{self.params['epochs']} done in {duration(seconds)}  {scores}  "
                f"learning rate {state['history']['learning_rate'][-1]:.3g}  "
                f"best val_accuracy {state['best_val_accuracy']:.4f} (epoch {state['best_epoch']})  "
                f"left: {duration(self._left(seconds))}"
            )

    return Progress()
