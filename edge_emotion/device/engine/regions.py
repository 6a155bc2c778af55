"""Region tracking for streams: each face followed in a small window around where it was, as MediaPipe's face
pipelines do, with a search of the whole frame only every few frames.

On a camera or a video a face moves little from one frame to the next, so searching the whole frame
again each time pays for pixels where no face is, and at the narrow width that makes it affordable
small faces are missed. Instead each face found is searched again in the next frame in a square
window ``margin`` times its size around its last box, resized to ``window`` px a side (the face
about ``window / margin`` px there, large enough for the detector whatever its size in the frame),
which gives a fresh box and landmarks for the alignment. A face followed for a few frames is searched
in its window only every ``window_every`` frames; on the frames between, its last box and landmarks move
on as it was moving (a tracker coasting between detections). The whole frame is searched, at
``full_width`` (wider than an every-frame search can afford), every ``every`` frames, so new faces
appear within that many frames, and at once whenever a window loses a followed face; a face only just
found that its window loses is dropped without one (false faces often are; a real one is found again by
the next full search). A followed face that is lost makes every frame a full search as long as the
tracker keeps its id. Between full searches a frame with no face to follow costs nothing.
See ``benchmarks/stream_tracking.py`` for the defaults.
"""

import math
from dataclasses import dataclass

import cv2
import numpy as np

from edge_emotion.device.engine.detector import NMS_IOU, Box, Detection, Found, ScaledDetector
from edge_emotion.device.engine.settings import FULL_WIDTH, MIN_SIDE, Regions
from edge_emotion.preprocess import pixel_centres

FOLLOWED = 3  # frames a face must have been followed before losing it makes every frame a full search
HUNT = 5  # frames searched in full after such a loss: the tracker keeps an id 5 missed frames

DEFAULT_REGIONS = Regions()


@dataclass
class Region:
    box: Box  # where the face is taken to be, frame pixels
    searched: Detection  # what the last search that found it found
    frames: int = 1  # frames in a row it was found (or moved on)
    motion: tuple[float, float] = (0.0, 0.0)  # px a frame, between the last two searches that found it
    since: int = 0  # frames since that search (moved on, not searched)


def same_face(box: Box, other: Box) -> bool:
    """Whether ``other`` is where the face last at ``box`` went: its centre within half a face of the old
    centre, and half to twice its width."""
    distance = math.hypot(box[0] + box[2] / 2 - other[0] - other[2] / 2, box[1] + box[3] / 2 - other[1] - other[3] / 2)
    return distance < 0.5 * max(box[2], box[3]) and 0.5 < other[2] / max(box[2], 1) < 2.0


def moved(region: Region) -> Detection:
    """``region``'s face where it is taken to be on the next frame: its last search's box and landmarks moved on
    as it was moving."""
    steps = region.since + 1
    dx, dy = region.motion[0] * steps, region.motion[1] * steps
    (x, y, w, h), points = region.searched.box, region.searched.landmarks
    landmarks = None if points is None else tuple((px + dx, py + dy) for px, py in points)
    return Detection((round(x + dx), round(y + dy), w, h), region.searched.score, landmarks)


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

    def coasts(self, region: Region, width: int, height: int) -> Detection | None:
        """``region``'s face moved on without a search, when it was followed for a few frames, its window is not
        due (``window_every``) and it stays inside the frame; else None."""
        if region.frames < FOLLOWED or region.since + 1 >= self.settings.window_every:
            return None
        guess = moved(region)
        x, y, w, h = guess.box
        return guess if x >= 0 and y >= 0 and x + w <= width and y + h <= height else None

    def detect(self, frame: np.ndarray) -> list[Detection]:
        height, width = frame.shape[:2]
        self.frames += 1
        self.last_full = self.since_full >= self.settings.every or self.hunt > 0
        found: list[Detection] = []
        coasted: dict[int, Region] = {}  # id() of a face moved on without a search -> its region
        if self.last_full:
            found = self.full(frame, width, height)
            for region in self.regions:  # a face the full search missed: its window may still see it
                if not any(same_face(region.box, d.box) for d in found):
                    found += self.follow(frame, region)
        else:
            lost = False
            for region in self.regions:
                guess = self.coasts(region, width, height)
                if guess is not None:
                    coasted[id(guess)] = region
                    found.append(guess)
                    continue
                seen = self.follow(frame, region)
                found += seen
                # a followed face lost: it moved fast, turned, or left; the whole frame says which. A face only
                # just found is dropped: a false face often is, and the next full search finds a real one again.
                lost = lost or (not seen and region.frames >= FOLLOWED)
            if lost:
                self.last_full = True
                found += [d for d in self.full(frame, width, height) if not any(same_face(f.box, d.box) for f in found)]
        found = self.distinct(found)
        self.hunt = max(0, self.hunt - 1)
        regions = []
        for detection in found:
            if id(detection) in coasted:
                before = coasted[id(detection)]
                regions.append(
                    Region(detection.box, before.searched, before.frames + 1, before.motion, before.since + 1)
                )
                continue
            known = next((r for r in self.regions if same_face(r.box, detection.box)), None)
            regions.append(Region(detection.box, detection) if known is None else followed(known, detection))
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


def followed(before: Region, detection: Detection) -> Region:
    """The region of a face a search found again where ``before`` was: its motion a frame since that region's
    last search."""
    steps = before.since + 1
    (x, y, w, h), (px, py, pw, ph) = detection.box, before.searched.box
    motion = ((x + w / 2 - px - pw / 2) / steps, (y + h / 2 - py - ph / 2) / steps)
    return Region(detection.box, detection, before.frames + 1, motion)


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
