"""Region tracking for streams: each face followed in a small window around where it was, as MediaPipe's face
pipelines do, with a search of the whole frame only every few frames.

On a camera or a video a face moves little from one frame to the next, so searching the whole frame
again each time pays for pixels where no face is, and at the narrow width that makes it affordable
small faces are missed. Instead each face found is searched again in the next frame in a square
window ``margin`` times its size around its last box, resized to ``window`` px a side (the face
about ``window / margin`` px there, large enough for the detector whatever its size in the frame),
which gives a fresh box and landmarks for the alignment. The whole frame is searched, at
``full_width`` (wider than an every-frame search can afford), every ``every`` frames, so new faces
appear within that many frames, and at once whenever a window loses its face; a face that was
followed for a few frames and is lost is then searched for on each frame as long as the tracker keeps
its id. Between full searches a frame with no face to follow costs nothing.
See ``benchmarks/stream_tracking.py`` for the defaults.
"""

import math
from dataclasses import dataclass

import cv2
import numpy as np

from edge_emotion.device.detector import NMS_IOU, Box, Detection, Found, ScaledDetector
from edge_emotion.device.settings import FULL_WIDTH, MIN_SIDE, Regions
from edge_emotion.preprocess import pixel_centres

FOLLOWED = 3  # frames a face must have been followed before losing it makes every frame a full search
HUNT = 5  # frames searched in full after such a loss: the tracker keeps an id 5 missed frames

DEFAULT_REGIONS = Regions()


@dataclass
class Region:
    box: Box  # where the face was last found, frame pixels
    frames: int = 1  # frames in a row it was found


def same_face(box: Box, other: Box) -> bool:
    """Whether ``other`` is where the face last at ``box`` went: its centre within half a face of the old
    centre, and half to twice its width."""
    distance = math.hypot(box[0] + box[2] / 2 - other[0] - other[2] / 2, box[1] + box[3] / 2 - other[1] - other[3] / 2)
    return distance < 0.5 * max(box[2], box[3]) and 0.5 < other[2] / max(box[2], 1) < 2.0


class RegionSearch:
    """A ``detect(frame)`` for a stream (see the module's description): ``last_full`` says whether the last
    frame paid for a full search; ``frames``, ``full_searches`` and ``windows`` count what was searched."""

    def __init__(self, detector: ScaledDetector, regions: Regions = DEFAULT_REGIONS) -> None:
        self.detector, self.settings = detector, regions
        self.regions: list[Region] = []
        self.since_full = regions.every  # the first frame is searched in full
        self.hunt = 0  # frames of full search left after a followed face was lost
        self.frames = self.full_searches = self.windows = 0
        self.last_full = False

    def forget(self) -> None:
        """No face in view any more (a video played again): the next frame is searched in full."""
        self.regions, self.since_full, self.hunt = [], self.settings.every, 0

    def full_ratio(self, width: int, height: int) -> float:
        """The full search's width / the frame's: ``full_width`` (or the detector's ``detect_width``, held to the
        frame as ``ratio`` holds it), at most 1, raised so the frame's shorter side keeps MIN_SIDE px."""
        chosen = self.settings.full_width
        if chosen is None and self.detector.detect_width is not None:
            return self.detector.ratio(width, height)  # an error for a width wider than the frame
        self.detector.ratio(width, height)  # an error for a frame too small to search
        ratio = min(1.0, (chosen or FULL_WIDTH) / width)
        return max(ratio, MIN_SIDE / min(width, height))

    def detect(self, frame: np.ndarray) -> list[Detection]:
        height, width = frame.shape[:2]
        self.frames += 1
        self.last_full = self.since_full >= self.settings.every or self.hunt > 0
        found: list[Detection] = []
        if self.last_full:
            found = self.full(frame, width, height)
            for region in self.regions:  # a face the full search missed: its window may still see it
                if not any(same_face(region.box, d.box) for d in found):
                    found += self.follow(frame, region)
        else:
            lost = False
            for region in self.regions:
                seen = self.follow(frame, region)
                found += seen
                lost = lost or not seen
            if lost:  # a window lost its face: it moved fast, turned, or left; the whole frame says which
                self.last_full = True
                found += [d for d in self.full(frame, width, height) if not any(same_face(f.box, d.box) for f in found)]
        found = self.distinct(found)
        self.hunt = max(0, self.hunt - 1)
        regions = []
        for detection in found:
            before = next((r for r in self.regions if same_face(r.box, detection.box)), None)
            regions.append(Region(detection.box, 1 if before is None else before.frames + 1))
        if any(r.frames >= FOLLOWED and not any(same_face(r.box, d.box) for d in found) for r in self.regions):
            self.hunt = HUNT
        self.regions = regions
        self.since_full = 1 if self.last_full else self.since_full + 1
        return found

    def full(self, frame: np.ndarray, width: int, height: int) -> list[Detection]:
        self.full_searches += 1
        return self.detector.detect_at(frame, self.full_ratio(width, height))

    def follow(self, frame: np.ndarray, region: Region) -> list[Detection]:
        """The face of ``region`` found again in its window, as a list of one detection, or none."""
        self.windows += 1
        found = [
            f for f in window_search(self.detector, frame, region.box, self.settings) if same_face(region.box, f.box)
        ]
        if not found:
            return []
        x, y, w, h = region.box
        nearest = min(
            found, key=lambda f: math.hypot(f.box[0] + f.box[2] / 2 - x - w / 2, f.box[1] + f.box[3] / 2 - y - h / 2)
        )
        return [nearest]

    @staticmethod
    def distinct(found: list[Detection]) -> list[Detection]:
        """One detection per face (two windows can find the same face): the most certain, most certain first."""
        if len(found) < 2:
            return found
        keep = cv2.dnn.NMSBoxes([list(d.box) for d in found], [d.score for d in found], 0.0, NMS_IOU)
        return sorted((found[i] for i in np.ravel(keep)), key=lambda d: -d.score)


def window_search(detector: ScaledDetector, frame: np.ndarray, box: Box, regions: Regions) -> list[Detection]:
    """``detector``'s search in a square ``regions.window`` px window ``regions.margin`` times ``box``'s size around
    its centre (black beyond the frame's edges), what it finds mapped back to frame pixels and filtered as a full
    search filters it."""
    height, width = frame.shape[:2]
    side = regions.margin * max(box[2], box[3])
    left, top = box[0] + box[2] / 2 - side / 2, box[1] + box[3] / 2 - side / 2
    x0, y0 = max(0, math.floor(left)), max(0, math.floor(top))
    x1, y1 = min(width, math.ceil(left + side)), min(height, math.ceil(top + side))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return []
    factor = regions.window / side
    size = (
        min(regions.window, max(1, round((x1 - x0) * factor))),
        min(regions.window, max(1, round((y1 - y0) * factor))),
    )
    fx, fy = size[0] / (x1 - x0), size[1] / (y1 - y0)
    interpolation = cv2.INTER_AREA if factor < 1.0 else cv2.INTER_LINEAR
    crop = cv2.resize(frame[y0:y1, x0:x1], size, interpolation=interpolation)
    ox = min(regions.window - size[0], max(0, round((x0 - left) * factor)))
    oy = min(regions.window - size[1], max(0, round((y0 - top) * factor)))
    canvas = np.zeros((regions.window, regions.window, *frame.shape[2:]), np.uint8)
    canvas[oy : oy + size[1], ox : ox + size[0]] = crop
    found: list[Found] = []
    for (x, y, w, h), points, score in detector.search(canvas, round(detector.min_face * factor)):
        if points is not None:
            points = np.column_stack(
                [pixel_centres(points[:, 0] - ox, 1 / fx) + x0, pixel_centres(points[:, 1] - oy, 1 / fy) + y0]
            )
        found.append(((x0 + (x - ox) / fx, y0 + (y - oy) / fy, w / fx, h / fy), points, score))
    return detector.kept(found, width, height)
