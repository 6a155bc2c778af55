"""Pictures a person would rather look at than read: training curves and confusion matrices."""

from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from edge_emotion.atomic import atomic_path
from edge_emotion.errors import missing_extra


def _pyplot() -> ModuleType:
    """pyplot, imported lazily: matplotlib is an optional heavy dependency (the train extra)."""
    try:
        import matplotlib
    except ImportError:
        raise missing_extra("matplotlib", "train") from None
    matplotlib.use("Agg")  # files only: works headless
    import matplotlib.pyplot as plt

    return plt


def curves_figure(history: dict[str, list[float]], best_epoch: int) -> Any:
    """Train and validation accuracy and loss, and the learning rate, per epoch; the best epoch marked."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator  # lazily, as _pyplot: an optional heavy dependency

    figure, axes = plt.subplots(1, 3, figsize=(14, 4))
    epochs = np.arange(1, len(history["loss"]) + 1)
    for axis, metric in zip(axes, ("accuracy", "loss"), strict=False):
        # Markers: a run of one epoch is one point per line, which a line alone does not draw.
        axis.plot(epochs, history[metric], marker="o", markersize=3, label="train")
        axis.plot(epochs, history[f"val_{metric}"], marker="o", markersize=3, label="validation")
        if 1 <= best_epoch <= len(epochs):
            best = history[f"val_{metric}"][best_epoch - 1]
            axis.plot([best_epoch], [best], "o", color="black", label=f"best epoch ({best_epoch})")
        axis.set_title(metric)
        axis.legend()
    axes[2].plot(epochs, history["learning_rate"], marker="o", markersize=3, color="tab:green")
    axes[2].set_title("learning rate")
    for axis in axes:
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.5
        axis.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def plot_curves(history: dict[str, list[float]], target: Path, best_epoch: int) -> None:
    """``curves_figure`` as a PNG."""
    plt = _pyplot()
    figure = curves_figure(history, best_epoch)
    with atomic_path(target) as temporary:
        figure.savefig(temporary, dpi=100)
    plt.close(figure)


def plot_confusion(matrix: np.ndarray, names: Sequence[str], title: str, target: Path) -> None:
    """The confusion matrix with each row normalised to recall, counts written in the cells."""
    plt = _pyplot()
    recall = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure, axis = plt.subplots(figsize=(6.5, 5.5))
    image = axis.imshow(recall, cmap="Blues", vmin=0, vmax=1)
    axis.set_xticks(range(len(names)), names, rotation=45, ha="right")
    axis.set_yticks(range(len(names)), names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    for (row, column), count in np.ndenumerate(matrix):
        colour = "white" if recall[row, column] > 0.5 else "black"
        axis.text(column, row, int(count), ha="center", va="center", color=colour, fontsize=8)
    figure.colorbar(image, ax=axis, label="share of the true class")
    figure.tight_layout()
    with atomic_path(target) as temporary:
        figure.savefig(temporary, dpi=100)
    plt.close(figure)
