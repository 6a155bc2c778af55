"""Where frames come from: a camera, a video file, an image, or a folder of images."""

import contextlib
import errno
import importlib.util
import logging
import math
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from edge_emotion.device.engine.settings import MIN_SIDE, PICAM_SIZE
from edge_emotion.device.io.image_header import image_size
from edge_emotion.errors import EdgeEmotionError, missing_extra
from edge_emotion.preprocess import IMAGE_SUFFIXES
from edge_emotion.quiet import native_output_hidden, verbose

log = logging.getLogger(__name__)
MAX_CAMERA_INDEX = 99  # OpenCV reads an index of 100 or more as a backend code plus an index
MAX_MEGAPIXELS = 50  # a 48 MP phone photo fits; decoded as BGR that is 150 MB, within a Pi's memory
MAX_BAD_FRAMES = 30  # undecodable video frames in a row that mean the end of the file, not a glitch


@dataclass(frozen=True)
class Frame:
    index: int
    timestamp: (
        float  # seconds: since the start for a camera, position in a video (growing on with --loop), 0 for images
    )
    name: str  # where the frame came from (file name, or camera:N)
    image: np.ndarray  # BGR
    restarted: bool = False  # the first frame of a video played again (--loop): the faces before it are gone


class FrameSource(Protocol):
    kind: str  # camera, video, image or dir
    fps: float | None  # the source's own rate, for writing video

    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


class CaptureSource:
    """A cv2.VideoCapture-like device or file.

    A camera that stops giving frames is reopened up to ``retries`` times, ``retry_delay``
    seconds apart; after that the source ends cleanly (``lost`` is set) and the run keeps
    what it has. A video frame that does not decode is skipped (counted in ``skipped``);
    ``MAX_BAD_FRAMES`` failed reads in a row are the video's end, where a video with ``loop``
    starts again (reopened, which every backend can do, unlike seeking), its frames' indices and
    timestamps going on from the last lap's. A video with ``realtime`` is read no faster than its frame
    times: as a camera would give it.
    """

    def __init__(
        self,
        opener: Callable[[], Any],
        name: str,
        *,
        live: bool,
        retries: int = 3,
        retry_delay: float = 0.5,
        loop: bool = False,
        realtime: bool = False,
    ) -> None:
        self.opener, self.name, self.live, self.loop = opener, name, live, loop
        self.realtime = realtime and not live
        self.kind = "camera" if live else "video"
        self.retries, self.retry_delay = retries, retry_delay
        self.lost = False
        self.skipped = 0
        self._pending: np.ndarray | None = None  # a frame read by a reopen, given before the next read
        self.capture = quiet_open(opener)
        if not self.capture.isOpened():
            what = f"camera {name} not found or busy" if live else f"cannot open video {name}"
            raise EdgeEmotionError(f"{what}; check the {'index (ls /dev/video*)' if live else 'path and format'}")
        rate = float(self.capture.get(cv2.CAP_PROP_FPS) or 0)
        self.fps = rate if rate > 0 else None

    def _reopen(self) -> bool:
        for attempt in range(1, self.retries + 1):
            log.warning("camera %s gave no frame; reopening (%d/%d)", self.name, attempt, self.retries)
            self.capture.release()
            time.sleep(self.retry_delay)
            self.capture = quiet_open(self.opener)
            if self.capture.isOpened():
                with opencv_quiet():
                    ok, image = self.capture.read()
                if ok and image is not None:
                    self._pending = image
                    return True
        return False

    def frames(self) -> Iterator[Frame]:
        started = time.monotonic()
        index = failures = 0
        lap_start, offset, timestamp = 0, 0.0, 0.0  # this lap's first index and start time; the latest time
        self._pending = None
        while True:
            if self._pending is not None:
                ok, image, self._pending = True, self._pending, None
            else:
                with opencv_quiet():  # FFmpeg's lines about a damaged frame: we count it instead
                    ok, image = self.capture.read()
            if not ok or image is None:
                if not self.live:
                    failures += 1
                    if failures < MAX_BAD_FRAMES:
                        continue
                    if index == 0:
                        raise EdgeEmotionError(f"cannot read video {self.name}: no frame decoded")
                    if not self.loop or index == lap_start or not self._restart():
                        return
                    interval = 1 / self.fps if self.fps else (timestamp - offset) / max(1, index - lap_start - 1)
                    lap_start, offset, failures = index, timestamp + interval, 0
                    continue
                if not self._reopen():
                    self.lost = True
                    log.warning("camera %s lost; stopping with the frames so far", self.name)
                    return
                continue
            self.skipped, failures = self.skipped + failures, 0
            position = self.capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if not math.isfinite(position):  # a damaged container's: the frame counts as coming after the last
                position = timestamp - offset
            timestamp = time.monotonic() - started if self.live else offset + position
            if self.realtime:
                time.sleep(max(0.0, timestamp - (time.monotonic() - started)))
            yield Frame(index, timestamp, self.name, image, restarted=index == lap_start > 0)
            index += 1

    def _restart(self) -> bool:
        """The video from its first frame again (``loop``); False where it no longer opens."""
        self.capture.release()
        self.capture = quiet_open(self.opener)
        return self.capture.isOpened()

    def close(self) -> None:
        self.capture.release()


class ImageSource:
    """Still images: one file (``--image``) or every image in a folder (``--dir``).

    A folder's image that cannot be read is skipped with a warning naming it (counted in ``skipped``,
    as a video's undecodable frames are); a folder where none can be read is an error.
    """

    fps: float | None = None  # stills have no rate of their own

    def __init__(self, paths: list[Path], kind: str) -> None:
        self.paths, self.kind = paths, kind
        self.skipped = 0

    def frames(self) -> Iterator[Frame]:
        index = 0
        for path in self.paths:
            try:
                image = read_image(path)
            except EdgeEmotionError as error:
                if self.kind != "dir":
                    raise
                log.warning("%s; skipped", error)
                self.skipped += 1
                continue
            yield Frame(index, 0.0, path.name, image)
            index += 1
        if self.paths and index == 0:
            raise EdgeEmotionError(f"{self.paths[0].parent}: none of its {len(self.paths)} images could be read")

    def close(self) -> None:
        pass


def read_image(path: Path) -> np.ndarray:
    """A BGR image, refused before decoding when its header says it is over ``MAX_MEGAPIXELS`` or has a
    side under the detector's ``MIN_SIDE``, or when its header gives no size (it could be any size)."""
    try:
        size = image_size(path)
    except OSError as error:
        raise EdgeEmotionError(f"cannot read {path} ({error.strerror})") from None
    if size is None:
        raise EdgeEmotionError(
            f"{path}: not an image whose header gives its size (a PNG, JPEG, BMP, WebP, TIFF or PNM file); "
            "an image is decoded only once its size is known"
        )
    if size[0] * size[1] > MAX_MEGAPIXELS * 1_000_000:
        raise EdgeEmotionError(
            f"{path}: {size[0]}x{size[1]} pixels is over the {MAX_MEGAPIXELS} megapixel limit; resize it first"
        )
    if min(size) < MIN_SIDE:
        raise EdgeEmotionError(
            f"{path}: {size[0]}x{size[1]} pixels is too small to search for faces; both sides need {MIN_SIDE} px"
        )
    try:
        with opencv_quiet():  # libpng's "Read Error", libtiff's warnings: the error below says it once
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    except cv2.error:  # beyond OpenCV's own limits
        image = None
    if image is None:
        raise EdgeEmotionError(f"{path}: not an image OpenCV can read")
    return image


@contextlib.contextmanager
def opencv_quiet() -> Iterator[None]:
    """OpenCV's own log lines (``[ WARN:0@0.03] global cap_v4l.cpp ... can't open camera by index``, libtiff's
    warnings) and what FFmpeg and libpng write straight to stderr ("moov atom not found", "libpng error: Read
    Error") off the terminal unless ``verbose()``: a source that fails is one error line of ours. Around one
    call that opens or decodes (``native_output_hidden``), not around the loop."""
    logging = cv2.utils.logging
    level = logging.getLogLevel()
    if not verbose():
        logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        with native_output_hidden(2):
            yield
    finally:
        logging.setLogLevel(level)


def quiet_open(opener: Callable[[], Any]) -> Any:
    """``opener()`` without OpenCV's or FFmpeg's own lines for an absent device or a damaged file: the error we
    raise says it once."""
    with opencv_quiet():
        return opener()


class PicameraCapture:
    """A Raspberry Pi camera module (CSI port) through picamera2, behind cv2.VideoCapture's interface.

    On Raspberry Pi OS Bookworm and later the CSI camera is reached through libcamera, not
    through OpenCV's V4L2 index. picamera2's "BGR888" format is stored R, G, B (libcamera
    names formats by their little-endian word order): an RGB array, turned into the BGR the
    loop expects.
    """

    def __init__(self, size: tuple[int, int] | None = None, fps: float | None = None) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise missing_extra("picamera2", "picamera") from None
        self.camera = Picamera2()
        self.opened = True
        main = {"size": size or PICAM_SIZE, "format": "BGR888"}
        controls = {} if fps is None else {"FrameRate": fps}
        try:
            self.camera.configure(self.camera.create_video_configuration(main=main, controls=controls))
            chosen = tuple(self.camera.camera_configuration()["main"]["size"])
            rate = None  # the nearest rate it can do to the one asked
            if fps is not None:
                shortest, longest = self.camera.camera_controls["FrameDurationLimits"][:2]  # microseconds
                rate = min(max(fps, 1e6 / longest), 1e6 / shortest)
            refused(
                "picam",
                size if size is not None and chosen != tuple(size) else None,
                fps if fps is not None and rate is not None and abs(rate - fps) > 0.01 * fps else None,
                chosen,
                rate,
            )
        except BaseException:
            self.release()
            raise
        self.camera.start()

    def isOpened(self) -> bool:
        return self.opened

    def read(self) -> tuple[bool, np.ndarray | None]:
        try:
            rgb = self.camera.capture_array()
        except RuntimeError:
            return False, None
        return True, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)

    def get(self, prop: int) -> float:
        return 0.0  # unknown: the loop measures its own rate

    def release(self) -> None:
        if self.opened:
            self.camera.stop()
            self.camera.close()
            self.opened = False


def refused(
    name: str, size: tuple[int, int] | None, fps: float | None, chosen: tuple[int, int], rate: float | None
) -> None:
    """An error when camera ``name`` did not take the ``size`` or ``fps`` asked (None: taken or not asked), saying
    what it chose instead (``chosen``, and ``rate``: its frame rate, or the fastest it can do; None: unknown)."""
    if size is None and fps is None:
        return
    asked = " at ".join(part for part in (size and f"{size[0]}x{size[1]}", fps and f"{fps:g} FPS") if part)
    options = f"--camera-size {chosen[0]}x{chosen[1]}" + (f" --fps {rate:.4g}" if rate else "")
    gave = f"{chosen[0]}x{chosen[1]}" + (f" at {rate:.4g} FPS" if rate else "")
    raise EdgeEmotionError(f"camera {name} cannot give {asked}; it chose {gave}: use {options}, or leave them out")


def picamera_installed() -> bool:
    return importlib.util.find_spec("picamera2") is not None


def open_camera(spec: str, size: tuple[int, int] | None = None, fps: float | None = None) -> CaptureSource:
    """``"0"``, ``"1"``…: a V4L2 camera (USB webcams); ``"picam"``: the Pi camera module via picamera2; asked
    for frames of ``size`` (width, height) at ``fps`` where given, an error where it cannot give them.

    ``"0"`` falls back to picamera2 when no V4L2 device answers and picamera2 is installed,
    so ``--camera 0`` works on a Pi with only a camera module.
    """
    if spec == "picam":
        return CaptureSource(lambda: PicameraCapture(size, fps), "picam", live=True)
    if not (spec.isascii() and spec.isdigit() and int(spec) <= MAX_CAMERA_INDEX):
        raise EdgeEmotionError(f"--camera {spec}: use a camera index (0 to {MAX_CAMERA_INDEX}) or picam")
    try:
        source = CaptureSource(lambda: set_up(cv2.VideoCapture(int(spec)), size, fps), spec, live=True)
    except EdgeEmotionError:
        if spec != "0" or not picamera_installed():
            raise
        log.info("no V4L2 camera 0; using the Pi camera module through picamera2")
        return CaptureSource(lambda: PicameraCapture(size, fps), "picam", live=True)
    capture = source.capture
    chosen = (round(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), round(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    rate = float(capture.get(cv2.CAP_PROP_FPS) or 0) or None  # 0: a driver that does not say
    try:
        refused(
            spec,
            size if size is not None and chosen != tuple(size) else None,
            fps if fps is not None and rate is not None and abs(rate - fps) > max(0.5, 0.02 * fps) else None,
            chosen,
            rate,
        )
    except EdgeEmotionError:
        source.close()
        raise
    return source


def set_up(capture: Any, size: tuple[int, int] | None, fps: float | None) -> Any:
    """An opened cv2.VideoCapture asked for frames of ``size`` at ``fps`` (None: its own); each reopening asks
    again."""
    if capture.isOpened():
        if size is not None:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        if fps is not None:
            capture.set(cv2.CAP_PROP_FPS, fps)
    return capture


FILE_TYPES = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def check_source_path(path: Path, kind: str) -> None:
    """Refuse a ``--video`` or ``--image`` that is not a regular file, or a ``--dir`` that is not a folder, saying
    what it is instead: absent, a folder (or a file), a FIFO or device (which reading would block on or
    consume), a symlink loop, or out of reach."""
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise EdgeEmotionError(f"--{kind} {path} is a symlink loop; point it at a real file") from None
        if error.errno in (errno.ENOENT, errno.ENOTDIR):
            raise EdgeEmotionError(f"{'folder' if kind == 'dir' else kind} not found: {path}") from None
        raise EdgeEmotionError(f"cannot read --{kind} {path} ({error.strerror})") from None
    if kind == "dir":
        if not stat.S_ISDIR(mode):
            hint = "; use --image for one image" if stat.S_ISREG(mode) else ""
            raise EdgeEmotionError(f"--dir {path} is not a folder{hint}")
    elif stat.S_ISDIR(mode):
        raise EdgeEmotionError(f"--{kind} {path} is a folder; use --dir {path} for a folder of images")
    elif not stat.S_ISREG(mode):
        what = FILE_TYPES.get(stat.S_IFMT(mode), "a special file")
        raise EdgeEmotionError(
            f"--{kind} {path} is not a regular file ({what}); give {'an image' if kind == 'image' else 'a video'} file"
        )


def open_video(path: Path, loop: bool = False, realtime: bool = False) -> CaptureSource:
    """A video file; with ``loop`` it plays again from the start at its end, until the run is stopped; with
    ``realtime`` at its own frame rate, as a camera gives frames."""
    check_source_path(path, "video")
    return CaptureSource(lambda: cv2.VideoCapture(str(path)), str(path), live=False, loop=loop, realtime=realtime)


def open_image(path: Path) -> ImageSource:
    check_source_path(path, "image")
    return ImageSource([path], "image")


def open_folder(folder: Path) -> ImageSource:
    check_source_path(folder, "dir")
    try:
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    except OSError as error:
        raise EdgeEmotionError(f"cannot read --dir {folder} ({error.strerror})") from None
    if not paths:
        raise EdgeEmotionError(f"{folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return ImageSource(paths, "dir")


OPENERS: dict[str, Callable[[Path], ImageSource]] = {"image": open_image, "dir": open_folder}


def source_kind(**named: str | Path | None) -> str:
    """Which kind of source (camera, video, image, dir) the user named, without opening it;
    naming none or several is an error."""
    chosen = [kind for kind, value in named.items() if value is not None]
    if len(chosen) != 1:
        raise EdgeEmotionError("give exactly one source: --camera N, --video F, --image F or --dir D")
    return chosen[0]


def open_source(
    *,
    camera: str | None = None,
    video: Path | None = None,
    image: Path | None = None,
    folder: Path | None = None,
    loop: bool = False,
    realtime: bool = False,
    camera_size: tuple[int, int] | None = None,
    fps: float | None = None,
) -> CaptureSource | ImageSource:
    """The one source the user named, a video replayed at its end with ``loop``, a camera giving ``camera_size``
    frames at ``fps`` (None: its own); naming none or several sources, or ``loop`` with no video, is an error."""
    named = {"camera": camera, "video": video, "image": image, "dir": folder}
    kind = source_kind(**named)
    if loop and kind != "video":
        raise EdgeEmotionError(f"--loop replays a video file: use it with --video FILE, not --{kind}")
    if kind == "video" and video is not None:
        return open_video(video, loop=loop, realtime=realtime)
    chosen = str(named[kind])  # source_kind found exactly this one given
    if kind == "camera":
        return open_camera(chosen, camera_size, fps)
    return OPENERS[kind](Path(chosen))
