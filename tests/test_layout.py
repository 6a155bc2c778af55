import itertools

import cv2
import numpy as np
import pytest

from edge_emotion.device.engine.recognizer import Face
from edge_emotion.device.io.annotate import annotate
from edge_emotion.device.io.layout import FONT, MIN_SCALE, Layout, Rect, layout
from edge_emotion.labels import CLASS_NAMES

NAMES = list(CLASS_NAMES)
TAG = "#12 surprise 100%"  # the longest tag a face gets

CASES = {
    "middle": ((640, 360), [(200, 100, 150, 150)]),
    "right edge": ((640, 360), [(560, 100, 80, 80)]),
    "left edge": ((640, 360), [(0, 120, 90, 90)]),
    "bottom right corner": ((640, 480), [(540, 380, 100, 100)]),
    "top edge": ((640, 480), [(300, 0, 120, 120)]),
    "tiny face, big frame": ((1920, 1080), [(900, 500, 20, 20)]),
    "tiny face at the right edge of a big frame": ((1920, 1080), [(1895, 40, 25, 25)]),
    "big face, small frame": ((320, 240), [(10, 10, 300, 220)]),
    "face filling the frame": ((160, 120), [(0, 0, 160, 120)]),
    "small frame": ((160, 120), [(20, 20, 60, 60)]),
    "two neighbours": ((640, 360), [(100, 100, 100, 100), (260, 100, 100, 100)]),
    "a row of faces": ((1280, 720), [(40 + 150 * i, 300, 90, 90) for i in range(8)]),
    "overlapping faces": ((640, 480), [(200, 150, 150, 150), (280, 200, 150, 150)]),
    "portrait frame": ((360, 640), [(100, 250, 160, 160)]),
}
CROWDED = {"face filling the frame", "small frame", "a row of faces"}  # where not every panel fits


def texts(plan: Layout) -> list[Rect]:
    labels = [plan.fps] if plan.fps else []
    for face in plan.faces:
        labels += [face.tag, *(bar.label for bar in face.bars)]
    return [label.rect for label in labels]


def drawn(plan: Layout) -> list[Rect]:
    """Everything drawn beside the faces: text boxes and bars."""
    return texts(plan) + [bar.rect for face in plan.faces for bar in face.bars]


@pytest.mark.parametrize("fps", [None, "28.3 FPS"])
@pytest.mark.parametrize("case", CASES)
def test_labels_never_overlap_and_stay_inside_the_frame(case: str, fps: str | None) -> None:
    frame, boxes = CASES[case]
    plan = layout(frame, boxes, [TAG] * len(boxes), NAMES, fps)
    assert (plan.fps is not None) == (fps is not None) and len(plan.faces) == len(boxes)
    if case not in CROWDED:  # where there is room, every face has its seven bars with the full names
        assert [bar.name for face in plan.faces for bar in face.bars] == NAMES * len(boxes)
    for rect in drawn(plan):
        assert rect.inside(*frame), rect
    for first, second in itertools.combinations(drawn(plan), 2):
        assert not first.overlaps(second), (first, second)


@pytest.mark.parametrize("case", CASES)
def test_each_row_holds_its_text_with_room_to_spare(case: str) -> None:
    frame, boxes = CASES[case]
    for face in layout(frame, boxes, [TAG] * len(boxes), NAMES).faces:
        for bar in face.bars:
            label = bar.label
            (width, height), baseline = cv2.getTextSize(label.text, FONT, label.scale, label.thickness)
            assert label.scale >= MIN_SCALE
            assert label.rect.height >= height + baseline + 4 and label.rect.width >= width + 4
            x, y = label.origin  # the text itself lies inside its box
            assert label.rect.x < x and x + width < label.rect.x + label.rect.width
            assert label.rect.y < y - height and y + baseline < label.rect.y + label.rect.height
            assert label.rect.y <= bar.rect.y and bar.rect.y + bar.rect.height <= label.rect.y + label.rect.height


def panel(plan: Layout, index: int = 0) -> Rect:
    rects = [r for bar in plan.faces[index].bars for r in (bar.rect, bar.label.rect)]
    left, top = min(r.x for r in rects), min(r.y for r in rects)
    return Rect(left, top, max(r.x + r.width for r in rects) - left, max(r.y + r.height for r in rects) - top)


def test_bars_go_right_of_the_face_else_left_else_inside() -> None:
    x, y, w, h = box = (200, 100, 150, 150)
    assert panel(layout((640, 360), [box], [TAG], NAMES)).x >= x + w
    x, y, w, h = box = (560, 100, 80, 80)
    area = panel(layout((640, 360), [box], [TAG], NAMES))
    assert area.x + area.width <= x
    x, y, w, h = box = (10, 10, 300, 220)
    area = panel(layout((320, 240), [box], [TAG], NAMES))
    assert area.x >= x and area.y >= y and area.x + area.width <= x + w and area.y + area.height <= y + h


def test_a_panel_keeps_off_a_neighbouring_face() -> None:
    boxes = [(100, 100, 100, 100), (260, 100, 100, 100)]
    plan = layout((640, 360), boxes, [TAG] * 2, NAMES)
    for index in range(2):
        assert not any(panel(plan, index).overlaps(Rect(*box)) for box in boxes)


def test_text_scales_with_the_frame_and_the_face() -> None:
    def row_height(frame: tuple[int, int], box: tuple[int, int, int, int]) -> int:
        return layout(frame, [box], [TAG], NAMES).faces[0].bars[0].label.rect.height

    small, big = row_height((640, 360), (300, 150, 20, 20)), row_height((1920, 1080), (900, 450, 20, 20))
    assert big >= 1.5 * small  # a tiny face in a big frame still gets text sized for the frame
    assert row_height((1280, 720), (300, 150, 300, 300)) > row_height((1280, 720), (300, 150, 60, 60))


def test_no_bars_where_none_readable_fit() -> None:
    plan = layout((64, 48), [(8, 8, 40, 32)], ["#1 happy 60%"], NAMES)
    assert plan.faces[0].bars == []


def test_annotate_draws_only_where_the_layout_says() -> None:
    frame, boxes = CASES["two neighbours"]
    image = np.full((frame[1], frame[0], 3), 90, np.uint8)
    probabilities = dict.fromkeys(NAMES, 0.05) | {"happy": 0.7}
    faces = [Face(box, 0.9, probabilities, "happy", index + 1) for index, box in enumerate(boxes)]
    annotated = annotate(image, faces, fps=28.3)
    plan = layout(frame, boxes, ["#1 happy 70%", "#2 happy 70%"], NAMES, "28.3 FPS")
    untouched = np.ones(image.shape[:2], bool)
    for x, y, w, h in [*drawn(plan), *(Rect(x - 2, y - 2, w + 5, h + 5) for x, y, w, h in boxes)]:
        untouched[y : y + h, x : x + w] = False
    assert (annotated[untouched] == 90).all()
    for rect in texts(plan):  # each text box is dark with light text on it
        patch = annotated[rect.y : rect.y + rect.height, rect.x : rect.x + rect.width]
        assert (patch == 0).all(axis=2).mean() > 0.4 and patch.max() > 150
