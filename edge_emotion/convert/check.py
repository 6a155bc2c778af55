"""The acceptance check of a conversion: the float and converted models on the same faces."""

from typing import Any

import numpy as np

from edge_emotion.metrics import agreement, score


def compare(float_probs: np.ndarray, converted_probs: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Accuracy and macro-F1 of each, the accuracy drop in points, top-1 agreement, mean |diff|."""
    before, after = score(float_probs, labels), score(converted_probs, labels)
    return {
        "faces": len(labels),
        "float_accuracy": round(before.accuracy, 4),
        "converted_accuracy": round(after.accuracy, 4),
        "drop_points": round(100 * (before.accuracy - after.accuracy), 2),
        "float_macro_f1": round(before.macro_f1, 4),
        "converted_macro_f1": round(after.macro_f1, 4),
        **agreement(float_probs, converted_probs),
    }
