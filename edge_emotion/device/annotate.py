"""Draw what the recognizer saw: boxes, labels, probability bars, landmarks and the frame rate."""

import cv2
import numpy as np

from edge_emotion.device.recognizer import Face

# One BGR colour per FER2013 class, so a label reads at a glance; unknown names fall back to white.
COLOURS = {
    "angry": (40, 40, 230), "disgust": (40, 140, 40), "fear": (170, 60, 150), "happy": (40, 200, 250),
    "sad": (200, 120, 40), "surprise": (230, 200, 40), "neutral": (190, 190, 190),
}  # fmt: skip
FONT = cv2.FONT_HERSHEY_SIMPLEX


def annotate(frame: np.ndarray, faces: list[Face], fps: float | None = None, landmarks: bool = False) -> np.ndarray:
    """A copy of ``frame`` with every face boxed and labelled, its probabilities as bars, and with
    ``landmarks`` its five landmarks as dots (the points the crop is aligned on)."""
    canvas = frame.copy()
    scale = max(0.5, min(canvas.shape[:2]) / 700)
    for face in faces:
        x, y, w, h = face.box
        colour = COLOURS.get(face.label, (255, 255, 255))
        cv2.rectangle(canvas, (x, y), (x + w, y + h), colour, max(1, round(2 * scale)))
        prefix = f"#{face.id} " if face.id is not None else ""
        tag = f"{prefix}{face.label} {face.probabilities[face.label]:.0%}"
        _text(canvas, tag, (x, max(round(24 * scale), y - 6)), scale, colour)
        _bars(canvas, face, (x + w + 4, y), scale)
        for point in face.landmarks if landmarks and face.landmarks else ():
            cv2.circle(canvas, tuple(map(round, point)), max(2, round(3 * scale)), colour, -1, cv2.LINE_AA)
    if fps is not None:
        _text(canvas, f"{fps:.1f} FPS", (8, 8 + round(24 * scale)), scale, (0, 255, 0))
    return canvas


def _text(canvas: np.ndarray, text: str, origin: tuple[int, int], scale: float, colour: tuple[int, int, int]) -> None:
    """Text on a dark box, readable on any background."""
    thickness = max(1, round(2 * scale))
    (width, height), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    x, y = origin
    cv2.rectangle(canvas, (x - 2, y - height - 4), (x + width + 2, y + baseline), (0, 0, 0), -1)
    cv2.putText(canvas, text, (x, y), FONT, scale, colour, thickness, cv2.LINE_AA)


def _bars(canvas: np.ndarray, face: Face, origin: tuple[int, int], scale: float) -> None:
    """One bar per class, longest for the most likely, beside the face."""
    x, y = origin
    step, length = round(18 * scale), round(70 * scale)
    for row, (name, probability) in enumerate(face.probabilities.items()):
        top = y + row * step
        colour = COLOURS.get(name, (255, 255, 255))
        cv2.rectangle(canvas, (x, top), (x + round(length * probability), top + step - 3), colour, -1)
        cv2.rectangle(canvas, (x, top), (x + length, top + step - 3), colour, 1)
        _text(canvas, name[:3], (x + length + 5, top + step - 4), 0.6 * scale, colour)
