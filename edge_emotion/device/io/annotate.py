"""Draw what the recognizer saw: boxes, labels, probability bars, landmarks and the frame rate,
where ``layout`` placed them."""

import cv2
import numpy as np

from edge_emotion.device.engine.recognizer import Face
from edge_emotion.device.io.layout import FONT, Label, Rect, layout

# One BGR colour per FER2013 class, so a label reads at a glance; unknown names fall back to white.
# Each is at least 4.5:1 against the black box behind the text (tests/test_page.py).
COLOURS = {
    "angry": (40, 40, 230), "disgust": (40, 140, 40), "fear": (210, 90, 190), "happy": (40, 200, 250),
    "sad": (200, 120, 40), "surprise": (230, 200, 40), "neutral": (190, 190, 190),
}  # fmt: skip
WHITE, BLACK, FPS_GREEN = (255, 255, 255), (0, 0, 0), (0, 255, 0)
TEXT = (235, 235, 235)  # the class names beside the bars: the bars carry the colour


def annotate(frame: np.ndarray, faces: list[Face], fps: float | None = None, landmarks: bool = False) -> np.ndarray:
    """A copy of ``frame`` with every face boxed and tagged, its probabilities as labelled bars, with
    ``fps`` the frame rate in the corner, and with ``landmarks`` the five landmarks as dots (the points
    the crop is aligned on)."""
    canvas = frame.copy()
    height, width = canvas.shape[:2]
    names = list(faces[0].probabilities) if faces else []
    tags = [f"{'' if f.id is None else f'#{f.id} '}{f.label} {f.probabilities[f.label]:.0%}" for f in faces]
    fps_text = None if fps is None else f"{fps:.1f} FPS"
    plan = layout((width, height), [face.box for face in faces], tags, names, fps_text)
    line = max(1, round(min(width, height) / 360))
    for face in faces:
        colour = COLOURS.get(face.label, WHITE)
        x, y, w, h = face.box
        cv2.rectangle(canvas, (x, y), (x + w, y + h), colour, line)
        for point in face.landmarks if landmarks and face.landmarks else ():
            cv2.circle(canvas, tuple(map(round, point)), line + 2, colour, -1, cv2.LINE_AA)
    for face, placed in zip(faces, plan.faces, strict=True):  # text over every box, never under one
        _text(canvas, placed.tag, COLOURS.get(face.label, WHITE))
        for bar in placed.bars:
            colour = COLOURS.get(bar.name, WHITE)
            filled = Rect(*bar.rect[:2], round(bar.rect.width * face.probabilities[bar.name]), bar.rect.height)
            _box(canvas, bar.rect, BLACK, -1)  # the bar's track, visible on a busy background
            _box(canvas, filled, colour, -1)
            _box(canvas, bar.rect, colour, 1)
            _text(canvas, bar.label, TEXT)
    if plan.fps is not None:
        _text(canvas, plan.fps, FPS_GREEN)
    return canvas


def _box(canvas: np.ndarray, rect: Rect, colour: tuple[int, int, int], line: int) -> None:
    """``rect`` exactly (cv2.rectangle includes its far corner), filled when ``line`` is -1."""
    if rect.width > 0 and rect.height > 0:
        x, y, w, h = rect
        cv2.rectangle(canvas, (x, y), (x + w - 1, y + h - 1), colour, line)


def _text(canvas: np.ndarray, label: Label, colour: tuple[int, int, int]) -> None:
    """Text on its dark box, readable on any background."""
    _box(canvas, label.rect, BLACK, -1)
    cv2.putText(canvas, label.text, label.origin, FONT, label.scale, colour, label.thickness, cv2.LINE_AA)
