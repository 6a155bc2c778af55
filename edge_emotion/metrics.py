"""Scores from predicted probabilities, not from a model: the Keras model and the int8 TFLite
model are scored by the same code."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge_emotion.labels import CLASS_NAMES


@dataclass(frozen=True)
class Scores:
    accuracy: float
    loss: float
    macro_f1: float
    precision: dict[str, float]
    recall: dict[str, float]
    confusion: np.ndarray  # rows: true class, columns: predicted class

    def as_dict(self) -> dict:
        return {
            "accuracy": round(self.accuracy, 4),
            "loss": round(self.loss, 4),
            "macro_f1": round(self.macro_f1, 4),
            "precision": {k: round(v, 4) for k, v in self.precision.items()},
            "recall": {k: round(v, 4) for k, v in self.recall.items()},
            "confusion": self.confusion.tolist(),
        }


def score(probabilities: np.ndarray, labels: np.ndarray, names: Sequence[str] = CLASS_NAMES) -> Scores:
    """Accuracy, cross-entropy loss, macro-F1, per-class precision and recall, confusion matrix."""
    classes = len(names)
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    hits = np.diag(confusion).astype(np.float64)
    precision = hits / np.maximum(confusion.sum(axis=0), 1)
    recall = hits / np.maximum(confusion.sum(axis=1), 1)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(classes), where=precision + recall > 0)
    present = confusion.sum(axis=1) > 0
    chosen = np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1.0)
    return Scores(
        accuracy=float(hits.sum() / max(len(labels), 1)),
        loss=float(-np.log(chosen).mean()),
        macro_f1=float(f1[present].mean()) if present.any() else 0.0,
        precision=dict(zip(names, precision.tolist(), strict=False)),
        recall=dict(zip(names, recall.tolist(), strict=False)),
        confusion=confusion,
    )


@dataclass(frozen=True)
class LabelSets:
    """Scores against FER2013's own label (every face) and against the FER+ majority of ten annotators
    (what people see; only faces whose majority is one of the seven classes, the others counted)."""

    fer2013: Scores
    ferplus: Scores | None = None
    left_out: int = 0  # faces whose FER+ majority is contempt, unknown or not-a-face

    def as_dict(self) -> dict:
        both = {"fer2013": self.fer2013.as_dict()}
        if self.ferplus is not None:
            both["ferplus"] = {**self.ferplus.as_dict(), "faces": int(self.ferplus.confusion.sum())}
            both["ferplus"]["left_out"] = self.left_out
        return both

    def summary(self) -> dict[str, float]:
        """The headline figures: accuracy and macro-F1 on each label set."""
        figures = {"fer2013_accuracy": self.fer2013.accuracy, "fer2013_macro_f1": self.fer2013.macro_f1}
        if self.ferplus is not None:
            figures |= {"ferplus_accuracy": self.ferplus.accuracy, "ferplus_macro_f1": self.ferplus.macro_f1}
        return {k: round(v, 4) for k, v in figures.items()}


def score_label_sets(probabilities: np.ndarray, labels: np.ndarray, human: np.ndarray | None = None) -> LabelSets:
    """``score`` against FER2013's ``labels``, and against ``human`` (FER+ majorities, -1 left out) when given."""
    fer2013 = score(probabilities, labels)
    if human is None:
        return LabelSets(fer2013)
    kept = human >= 0
    return LabelSets(fer2013, score(probabilities[kept], human[kept]), int((~kept).sum()))


def agreement(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """How closely two models' probabilities on the same faces match: top-1 agreement, mean |diff|."""
    return {
        "top1_agreement": round(float((a.argmax(axis=1) == b.argmax(axis=1)).mean()), 4),
        "mean_abs_prob_diff": round(float(np.abs(a - b).mean()), 5),
    }
