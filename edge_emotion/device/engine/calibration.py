"""Per-person neutral calibration: "this is my neutral face", so a resting face that the model reads
as sad or angry reads neutral from then on, while real expressions still show.

The maths, in log space: let ``r_k`` be the mean of ``log p_k - log p_neutral`` over the person's
neutral frames (how far class ``k`` stands above neutral on their resting face). The person's bias
lowers each class just enough that neutral leads it by ``margin`` (log 4 by default):
``b_k = min(0, -margin - r_k)``, clipped at ``-max_shift``; neutral and the classes already well
below it are left alone. Every later frame of that person becomes ``softmax(log p + b)``. On the
resting face that reads neutral; an expression moves its class up by some amount and keeps that
movement, so a smile that raised happy above the resting face by more than the pull still wins.

Limits: the bias is one offset per class, learned from a few seconds; if the "neutral" frames
were not neutral (a smile while calibrating) that expression is damped for this person until the
track ends; the clip bounds how far a strongly mis-read face can be pulled (a bias of 3 in
log space is a factor of 20); and it only ever lowers classes, so it cannot make a face read
as an expression it does not show.
"""

from dataclasses import dataclass, field

import numpy as np

from edge_emotion.errors import EdgeEmotionError


def neutral_bias(samples: np.ndarray, neutral: int, *, margin: float = np.log(4), max_shift: float = 3.0) -> np.ndarray:
    """The log-space offset per class that makes these frames read neutral by ``margin``; never a boost."""
    if len(samples) == 0:
        raise EdgeEmotionError("no frames of the face to calibrate on")
    logs = np.log(np.clip(samples, 1e-6, 1.0))
    above_neutral = (logs - logs[:, neutral : neutral + 1]).mean(axis=0)
    bias = np.clip(np.minimum(0.0, -margin - above_neutral), -max_shift, 0.0)
    bias[neutral] = 0.0
    return bias


def apply_bias(probabilities: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """``softmax(log p + bias)`` per row; unchanged without a bias."""
    if bias is None:
        return probabilities
    logits = np.log(np.clip(probabilities, 1e-6, 1.0)) + bias
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return (shifted / shifted.sum(axis=-1, keepdims=True)).astype(np.float32)


@dataclass
class Calibration:
    """A window of ``seconds`` from ``start`` in which one face's frames are taken as its neutral face."""

    start: float
    seconds: float
    samples: list[np.ndarray] = field(default_factory=list)

    def add(self, probabilities: np.ndarray, now: float) -> bool:
        """Take one frame's raw probabilities; True once the window has passed (with at least one frame)."""
        if now - self.start < self.seconds or not self.samples:
            self.samples.append(probabilities)
        return now - self.start >= self.seconds

    def bias(self, neutral: int) -> np.ndarray:
        return neutral_bias(np.stack(self.samples), neutral)
