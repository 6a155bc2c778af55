"""Region tracking for streams: each face followed in a small window around where it was, as MediaPipe's face
pipelines do, with a search of the whole frame only every few frames.

On a camera or a video a face moves little from one frame to the next, so searching the whole frame
again each time pays for pixels where no face is, and at the narrow width that makes it affordable
small faces are missed. Instead each face found is searched again in the next frame in a square
window ``margin`` times its size around its last box, turned as the face was turned (its eyes' line) so
that it stands upright there, and resized to ``window`` px a side (the face about ``window / margin`` px
there, large enough for the detector whatever its size in the frame), which gives a fresh box and
landmarks for the alignment. A face followed for a few frames is searched in its window only every
``window_every`` frames; on the frames between, its last box and landmarks move on as it was moving (a
tracker coasting between detections). The whole frame is searched, at ``full_width`` (wider than an
every-frame search can afford), every ``every`` frames, so new faces appear within that many frames. A
followed face its window loses is looked for in a window twice as wide, then by a full search of the
same frame; one still lost is looked for in a wide window where it was while the tracker keeps its id.
A face only just found that its window loses is dropped without a full search (false faces often are;
a real one is found again by the next full search). Between full searches a frame with no face to
follow costs nothing. See ``benchmarks/stream_tracking.py`` for the defaults.
"""

import math
from dataclasses import dataclass

import cv2
import numpy as np

from edge_emotion.device.engine.detector import NMS_IOU, Box, Detection, Found, ScaledDetector
from edge_emotion.device.engine.settings import FULL_WIDTH, MIN_SIDE, Regions
from edge_emotion.preprocess import pixel_centres

FOLLOWED = 3  # frames a face must have been followed before losing it costs a full search
HUNT = 5  # frames a lost face is looked for in a wide window: the tracker keeps an id 5 missed frames
WIDE = 2.0  # how much wider than its own window a lost face's window is

DEFAULT_REGIONS = Regions()


@dataclass
class Region:
    box: Box  # where the face is taken to be, frame pixels
    searched: Detection  # what the last search that found it found
    frames: int = 1  # frames in a row it was found (or moved on)
    motion: tuple[float, float] = (0.0, 0.0)  # px a frame, between the last two searches that found it
    since: int = 0  # frames since that search (moved on, not searched)


def same_face(box: Box, other: Box, reach: float = 1.0) -> bool:
    """Whether ``other`` is where the face last at ``box`` went: its centre within ``reach`` halves of a face of
    the old centre, and half to twice its width."""
    distance = math.hypot(box[0] + box[2] / 2 - other[0] - other[2] / 2, box[1] + box[3] / 2 - other[1] - other[3] / 2)
    return distance < 0.5 * reach * max(box[2], box[3]) and 0.5 < other[2] / max(box[2], 1) < 2.0


def seen_near(box: Box, found: list[Detection], reach: float = 1.0) -> bool:
    """Whether a face in ``found`` is the face last at ``box`` (``same_face`` with ``reach``)."""
    return any(same_face(box, d.box, reach) for d in found)


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
        self.missing: list[tuple[Region, int]] = []  # followed faces lost, with the frames left to look for them
        self.frames = self.full_searches = self.windows = 0
        self.last_full = False

    def forget(self) -> None:
        """No face in view any more (a video played again): the next frame is searched in full."""
        self.regions, self.since_full, self.missing = [], self.settings.every, []

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
        self.last_full = self.since_full >= self.settings.every
        found: list[Detection] = []
        coasted: dict[int, Region] = {}  # id() of a face moved on without a search -> its region
        if self.last_full:
            found = self.full(frame, width, height)
            for region in self.regions:  # a face the full search missed: its window may still see it
                if not seen_near(region.box, found):
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
                if not seen and region.frames >= FOLLOWED:  # moved fast or turned: a window twice as wide
                    seen = self.follow(frame, region, WIDE)
                found += seen
                # a followed face lost: it turned away or left; the whole frame says which. A face only just
                # found is dropped: a false face often is, and the next full search finds a real one again.
                lost = lost or (not seen and region.frames >= FOLLOWED)
            if lost:
                self.last_full = True
                found += [d for d in self.full(frame, width, height) if not any(same_face(f.box, d.box) for f in found)]
        for region, _ in self.missing:  # a face lost a moment ago: looked for in a wide window while it may return
            if not seen_near(region.box, found):
                found += self.follow(frame, region, WIDE)
        found = self.distinct(found)
        regions = []
        for detection in found:
            if id(detection) in coasted:
                before = coasted[id(detection)]
                regions.append(
                    Region(detection.box, before.searched, before.frames + 1, before.motion, before.since + 1)
                )
                continue
            # a lost face found again starts afresh: its last search is too long ago to say how it moves
            known = next((r for r in self.regions if same_face(r.box, detection.box)), None)
            regions.append(Region(detection.box, detection) if known is None else followed(known, detection))
        # a face counts as seen where a wide window would have taken it for this one
        gone = [(r, HUNT) for r in self.regions if r.frames >= FOLLOWED and not seen_near(r.box, found, WIDE)]
        self.missing = gone + [
            (r, left - 1) for r, left in self.missing if left > 1 and not seen_near(r.box, found, WIDE)
        ]
        self.regions = regions
        self.since_full = 1 if self.last_full else self.since_full + 1
        return found

    def full(self, frame: np.ndarray, width: int, height: int) -> list[Detection]:
        self.full_searches += 1
        return self.detector.detect_at(frame, self.full_ratio(width, height))

    def follow(self, frame: np.ndarray, region: Region, wider: float = 1.0) -> list[Detection]:
        """The face of ``region`` found again in its window, or in one ``wider`` times as wide that accepts a face
        as far again from where it was, as a list of one detection, or none."""
        self.windows += 1
        window, margin = self.settings.window, self.settings.margin * wider
        found = [
            f
            for f in window_search(self.detector, frame, region.box, window, margin, roll(region.searched))
            if same_face(region.box, f.box, wider)
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


def roll(detection: Detection) -> float:
    """How far ``detection``'s face is turned in the picture's plane, degrees (its eyes' line against the
    horizontal, positive when the eye on the picture's right is lower); 0 without landmarks."""
    if detection.landmarks is None:
        return 0.0
    (rx, ry), (lx, ly) = detection.landmarks[0], detection.landmarks[1]
    return math.degrees(math.atan2(ly - ry, lx - rx))


def window_search(
    detector: ScaledDetector, frame: np.ndarray, box: Box, window: int, margin: float, degrees: float = 0.0
) -> list[Detection]:
    """``detector``'s search in a square ``window`` px window ``margin`` times ``box``'s size around
    its centre, turned by ``degrees`` so that a face turned that far stands upright in it (as MediaPipe turns its
    regions: the detector finds upright faces best), black beyond the frame's edges; what it finds mapped back to
    frame pixels and filtered as a full search filters it."""
    height, width = frame.shape[:2]
    turn = math.radians(degrees)
    reach = abs(math.cos(turn)) + abs(math.sin(turn))  # the turned window's bounding square / its side
    side = margin * max(box[2], box[3])
    outer = max(window, math.ceil(window * reach - 1e-9))  # the bounding square, window pixels
    bound = side * outer / window
    left, top = box[0] + box[2] / 2 - bound / 2, box[1] + box[3] / 2 - bound / 2
    x0, y0 = max(0, math.floor(left)), max(0, math.floor(top))
    x1, y1 = min(width, math.ceil(left + bound)), min(height, math.ceil(top + bound))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return []
    factor = window / side
    size = (min(outer, max(1, round((x1 - x0) * factor))), min(outer, max(1, round((y1 - y0) * factor))))
    fx, fy = size[0] / (x1 - x0), size[1] / (y1 - y0)
    interpolation = cv2.INTER_AREA if factor < 1.0 else cv2.INTER_LINEAR
    crop = cv2.resize(frame[y0:y1, x0:x1], size, interpolation=interpolation)
    ox = min(outer - size[0], max(0, round((x0 - left) * factor)))
    oy = min(outer - size[1], max(0, round((y0 - top) * factor)))
    canvas = np.zeros((outer, outer, *frame.shape[2:]), np.uint8)
    canvas[oy : oy + size[1], ox : ox + size[0]] = crop
    back = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # window pixels -> canvas pixels
    if outer > window or degrees:
        centre = (outer - 1) / 2
        upright = np.asarray(cv2.getRotationMatrix2D((centre, centre), degrees, 1.0), np.float64)
        upright[:, 2] += (window - outer) / 2
        canvas = cv2.warpAffine(canvas, upright, (window, window), flags=cv2.INTER_LINEAR)
        back = cv2.invertAffineTransform(upright)
    found: list[Found] = []
    for (x, y, w, h), points, score in detector.search(canvas, round(detector.min_face * factor)):
        cx, cy = back @ (x + w / 2, y + h / 2, 1.0)
        if points is not None:
            points = points @ back[:, :2].T + back[:, 2]
            points = np.column_stack(
                [pixel_centres(points[:, 0] - ox, 1 / fx) + x0, pixel_centres(points[:, 1] - oy, 1 / fy) + y0]
            )
        found.append(((x0 + (cx - w / 2 - ox) / fx, y0 + (cy - h / 2 - oy) / fy, w / fx, h / fy), points, score))
    return detector.kept(found, width, height)
