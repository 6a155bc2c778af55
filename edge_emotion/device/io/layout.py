"""Where the overlay's text and bars go: rectangles measured with the font's real text sizes, so that
labels never overlap one another and stay inside the frame. Pure geometry: testable without pixels."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import cv2

from edge_emotion.device.engine.detector import Box

FONT = cv2.FONT_HERSHEY_SIMPLEX
MIN_SCALE = 0.4  # Hershey text smaller than this (about 9 pixels high) is unreadable: shrink no further
SHRINK = 0.85  # each next try is this much smaller
REFERENCE_SIDE = 720  # a frame whose shorter side has this many pixels draws text at scale 1
BAR_LENGTH = 80  # pixels at scale 1, for a probability of 1
TAG_SCALE = 1.25  # a face's tag is this much larger than its bars' labels, frame allowing


class Rect(NamedTuple):
    x: int
    y: int
    width: int
    height: int

    def overlaps(self, other: "Rect") -> bool:
        return (
            self.x < other.x + other.width
            and other.x < self.x + self.width
            and self.y < other.y + other.height
            and other.y < self.y + self.height
        )

    def inside(self, width: int, height: int) -> bool:
        return self.x >= 0 and self.y >= 0 and self.x + self.width <= width and self.y + self.height <= height


@dataclass(frozen=True)
class Label:
    """Text on its own dark box: ``rect`` is the box, ``origin`` where ``cv2.putText`` starts the text."""

    text: str
    rect: Rect
    origin: tuple[int, int]
    scale: float
    thickness: int


@dataclass(frozen=True)
class Bar:
    name: str
    rect: Rect  # the whole bar, a probability of 1; the filled part is drawn to scale inside it
    label: Label  # the class's full name, to the right of the bar


@dataclass(frozen=True)
class FaceLayout:
    tag: Label  # "#1 happy 71%", above the face where there is room
    bars: list[Bar]  # one per class; empty where no readable panel fits in the frame


@dataclass(frozen=True)
class Layout:
    fps: Label | None  # None when not asked for, or where the frame is too small for it
    faces: list[FaceLayout]


def thickness(scale: float) -> int:
    return max(1, round(2 * scale))


def padding(scale: float) -> int:
    return max(2, round(4 * scale))


def label_at(text: str, scale: float, x: int, y: int) -> Label:
    """``text`` at ``scale`` in a box whose top-left corner is (x, y), padded on every side."""
    (width, height), baseline = cv2.getTextSize(text, FONT, scale, thickness(scale))
    pad = padding(scale)
    rect = Rect(x, y, width + 2 * pad, height + baseline + 2 * pad)
    return Label(text, rect, (x + pad, y + pad + height), scale, thickness(scale))


def bar_rows(names: list[str], scale: float, x: int, y: int) -> list[Bar]:
    """A bar and its label per class, top to bottom from (x, y); each row as high as its text and padding."""
    labels = [label_at(name, scale, 0, 0) for name in names]
    row = max(label.rect.height for label in labels)
    length, gap, spacing = round(BAR_LENGTH * scale), padding(scale), max(1, round(2 * scale))
    inset = max(1, round(3 * scale))
    bars = []
    for index, name in enumerate(names):
        top = y + index * (row + spacing)
        label = label_at(name, scale, x + length + gap, top)
        bars.append(Bar(name, Rect(x, top + inset, length, row - 2 * inset), label))
    return bars


def bounds(rects: list[Rect]) -> Rect:
    left, top = min(r.x for r in rects), min(r.y for r in rects)
    right, bottom = max(r.x + r.width for r in rects), max(r.y + r.height for r in rects)
    return Rect(left, top, right - left, bottom - top)


def panel_size(names: list[str], scale: float) -> tuple[int, int]:
    area = bounds([rect for bar in bar_rows(names, scale, 0, 0) for rect in (bar.rect, bar.label.rect)])
    return area.width, area.height


def label_size(text: str, scale: float) -> tuple[int, int]:
    rect = label_at(text, scale, 0, 0).rect
    return rect.width, rect.height


def shrinking(start: float) -> list[float]:
    """Scales from ``start`` down to ``MIN_SCALE``, largest first."""
    scales = [start]
    while scales[-1] * SHRINK > MIN_SCALE:
        scales.append(scales[-1] * SHRINK)
    return [*scales, MIN_SCALE] if scales[-1] > MIN_SCALE else scales


Spots = Callable[[int, int], list[tuple[int, int]]]  # a box's size -> top-left corners to try, best first


def place(
    size_at: Callable[[float], tuple[int, int]],
    spots: Spots,
    start: float,
    frame: tuple[int, int],
    taken: list[Rect],
    faces: list[Rect],
) -> tuple[float, Rect] | None:
    """The largest scale from ``start`` down, and the first spot at it, where the box lies inside the frame
    and overlaps nothing ``taken``; spots that leave the other ``faces`` uncovered are tried first."""
    for blocked in (taken + faces, taken):
        for scale in shrinking(start):
            width, height = size_at(scale)
            for x, y in spots(width, height):
                rect = Rect(x, y, width, height)
                if rect.inside(*frame) and not any(rect.overlaps(other) for other in blocked):
                    return scale, rect
    return None


def clamp(value: int, low: int, high: int) -> int:
    """``value`` within [low, high]; ``high`` where the range is empty, which no frame then contains."""
    return min(max(value, low), high)


def tag_spots(box: Box, frame: tuple[int, int]) -> Spots:
    """Above the face, else below it, else inside it (top, then bottom); each flush left, then flush
    right, and slid sideways to stay in the frame."""
    x, y, width, height = box

    def spots(w: int, h: int) -> list[tuple[int, int]]:
        sides = clamp(x, 0, frame[0] - w), clamp(x + width - w, 0, frame[0] - w)
        rows = y - h, y + height, clamp(y, 0, frame[1] - h), clamp(y + height - h, 0, frame[1] - h)
        return [(left, top) for top in rows for left in sides]

    return spots


def panel_spots(box: Box, tag: Rect, frame: tuple[int, int], gap: int) -> Spots:
    """Right of the face, else left of it (or of its tag, where that sticks out), else below it, else
    inside it (top, then bottom)."""
    x, y, width, height = box

    def spots(w: int, h: int) -> list[tuple[int, int]]:
        top, left = clamp(y, 0, frame[1] - h), clamp(x, 0, frame[0] - w)
        inner = clamp(x + gap, 0, frame[0] - w)
        return [
            (x + width + gap, top),
            (max(x + width, tag.x + tag.width) + gap, top),
            (x - gap - w, top),
            (min(x, tag.x) - gap - w, top),
            (left, y + height + gap),
            (inner, clamp(y + gap, 0, frame[1] - h)),
            (inner, clamp(y + height - gap - h, 0, frame[1] - h)),
        ]

    return spots


def layout(
    frame: tuple[int, int], boxes: list[Box], tags: list[str], names: list[str], fps: str | None = None
) -> Layout:
    """Every label of an overlay on a frame of ``frame`` = (width, height) pixels: the ``fps`` text in the top
    left corner, then each face's tag, then each face's probability panel (bars and ``names``).

    Text is scaled to the frame (``REFERENCE_SIDE``) and a panel to its face, then shrunk where it does not
    fit; nothing drawn overlaps anything else drawn. Panels keep off other faces where they can. A panel
    that does not fit at ``MIN_SCALE`` is left out; a tag is always drawn (above its face at the smallest
    scale, where nothing fits).
    """
    base = min(frame) / REFERENCE_SIDE
    top_scale, low = max(MIN_SCALE, base), max(MIN_SCALE, base / 2)
    taken: list[Rect] = []
    fps_label = None
    corner = padding(top_scale)
    spot = (
        place(lambda s: label_size(fps, s), lambda w, h: [(corner, corner)], top_scale, frame, [], []) if fps else None
    )
    if fps and spot is not None:
        fps_label = label_at(fps, spot[0], spot[1].x, spot[1].y)
        taken.append(fps_label.rect)

    faces = [Rect(*box) for box in boxes]
    reference = panel_size(names, 1.0)[1] if names else 1
    starts = [min(max(box[3] / reference, low), top_scale) for box in boxes]  # a panel about as high as its face
    tag_labels = []
    for index, (box, tag) in enumerate(zip(boxes, tags, strict=True)):
        others = faces[:index] + faces[index + 1 :]
        start = min(TAG_SCALE * starts[index], top_scale)
        spot = place(partial(label_size, tag), tag_spots(box, frame), start, frame, taken, others)
        if spot is None:
            width, height = label_size(tag, MIN_SCALE)
            spot = MIN_SCALE, Rect(clamp(box[0], 0, frame[0] - width), max(0, box[1] - height), width, height)
        tag_labels.append(label_at(tag, spot[0], spot[1].x, spot[1].y))
        taken.append(tag_labels[-1].rect)

    gap = padding(top_scale)
    laid_out = []
    for index, (box, tag_label) in enumerate(zip(boxes, tag_labels, strict=True)):
        others = faces[:index] + faces[index + 1 :]
        spots = panel_spots(box, tag_label.rect, frame, gap)
        spot = place(lambda s: panel_size(names, s), spots, starts[index], frame, taken, others) if names else None
        bars = []
        if spot is not None:
            bars = bar_rows(names, spot[0], spot[1].x, spot[1].y)
            taken.append(spot[1])
        laid_out.append(FaceLayout(tag_label, bars))
    return Layout(fps_label, laid_out)
