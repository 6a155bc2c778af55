"""Where annotated frames go: an image file, a folder of images, or a video file."""

import contextlib
import functools
import logging
import os
import stat
import tempfile
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from edge_emotion.atomic import atomic_path, check_writable, partial_path, write_errors
from edge_emotion.device.io.sources import Frame, open_folder, opencv_quiet
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.preprocess import IMAGE_SUFFIXES

log = logging.getLogger(__name__)
VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "mp4v"}
VIDEO_SIDES = {"mp4v": (2, 8191), "MJPG": (1, 65500)}  # the frame sides, in px, each codec encodes (FFmpeg's)
H264 = "avc1"  # what browsers play in an .mp4, where OpenCV's FFmpeg has an encoder for it


@functools.cache
def encodes_h264() -> bool:
    """Whether this OpenCV build writes H.264 (avc1) into an .mp4: pip's wheels cannot, a Pi's FFmpeg can have
    the hardware encoder. A one-frame test write into a temporary file, a few ms once a process."""
    with tempfile.TemporaryDirectory() as folder, opencv_quiet():
        path = os.path.join(folder, "probe.mp4")
        try:
            writer = cv2.VideoWriter(path, cv2.VideoWriter.fourcc(*H264), 10, (64, 64))
        except cv2.error:
            return False
        opened = writer.isOpened()
        if opened:
            writer.write(np.zeros((64, 64, 3), np.uint8))
        writer.release()
        return opened and os.path.getsize(path) > 0


def check_target(target: Path, source_kind: str) -> None:
    """Refuse a ``--save`` target that cannot work before any frame is read: a suffix OpenCV
    cannot write for this kind of source, a folder where a file is written (a video or an image),
    or a folder where no file can be created."""
    suffix = target.suffix.lower()
    if source_kind in ("camera", "video") and suffix not in VIDEO_CODECS:
        raise EdgeEmotionError(f"--save {target}: a video needs one of {', '.join(VIDEO_CODECS)}")
    if source_kind == "image" and suffix not in IMAGE_SUFFIXES:
        raise EdgeEmotionError(f"--save {target}: an image needs one of {', '.join(sorted(IMAGE_SUFFIXES))}")
    if source_kind != "dir" and target.is_dir():
        what = "image" if source_kind == "image" else "video"
        raise EdgeEmotionError(f"--save {target} is a folder; name the {what} file to write, e.g. {target}/out{suffix}")
    check_writable(target if source_kind == "dir" else target.parent)


def file_key(path: Path) -> tuple | None:
    """What makes two paths one file: its device and inode where it exists (as ``os.path.samefile`` compares,
    so links and other spellings match), else its resolved path (as far as it resolves: a symlink loop stays
    itself); None for a device such as /dev/null, which no output can destroy."""
    try:
        status = path.stat()
    except OSError:
        return ("path", Path(os.path.realpath(path)))
    return None if stat.S_ISCHR(status.st_mode) else ("file", status.st_dev, status.st_ino)


def check_clashes(kind: str, source: Path | None, *, save: Path | None, events: Path | None) -> None:
    """Refuse, before anything is written, an output that is an input or another output: ``events`` (None or
    -: stdout) and ``save`` (and the temporary it is written under) must be none of the ``source`` files of a
    ``kind`` source (the video, the image, or each image of a folder, whose outputs go into ``save`` under
    their own names) and not each other."""
    inputs = [source] if kind in ("video", "image") and source is not None else []
    if kind == "dir" and source is not None:
        inputs = open_folder(source).paths  # the images the run will read; a folder with none is an error here
    outputs: list[tuple[str, Path]] = []
    if events is not None and events != Path("-"):
        outputs.append((f"--events {events}", events))
    if save is not None:
        files = [save / image.name for image in inputs] if kind == "dir" else [save]
        outputs += [(f"--save {save}", path) for file in files for path in (file, partial_path(file))]
    read = {file_key(path): path for path in inputs if path.exists()}  # a missing input is the source's own error
    written: dict[tuple, str] = {}
    for name, path in outputs:
        key = file_key(path)
        if key is None:
            continue
        if key in read:
            source_file = f"the --dir image {read[key]}" if kind == "dir" else f"the --{kind} {read[key]}"
            place = "folder" if kind == "dir" and name.startswith("--save") else "file"
            raise EdgeEmotionError(f"{name} would overwrite {source_file}; choose another {place}, nothing was written")
        if written.get(key, name) != name:
            raise EdgeEmotionError(f"{written[key]} and {name} are the same file; choose another file for one of them")
        written[key] = name


def refusal(codec: str, width: int, height: int, fps: float) -> str:
    """Why ``codec`` would not start a video of ``width`` x ``height`` frames at ``fps``, and what to do."""

    def takes(name: str) -> bool:
        return VIDEO_SIDES[name][0] <= min(width, height) and max(width, height) <= VIDEO_SIDES[name][1]

    others = [f"{suffix} ({name})" for suffix, name in VIDEO_CODECS.items() if name != codec and takes(name)]
    fix = f"save as {others[0]}" if others else "resize the source's frames"
    if takes(codec):
        return f"the {codec} codec refused {width}x{height} frames at {fps:g} FPS; {fix}"
    low, high = VIDEO_SIDES[codec]
    return f"the {codec} codec takes frames of {low} to {high} px a side, not {width}x{height}; {fix}"


class AnnotatedOutput:
    """Saves annotated frames as the source calls for, each file written atomically.

    An image source saves to the ``--save`` file (one image) or folder (several); a camera
    or video source writes a video whose partial file is renamed into place when the run
    ends, and removed when it fails. OpenCV's VideoWriter does not report failed writes (a
    full disk), so the video is read back before the rename: a file that does not open, or
    holds fewer frames than were written, is an error and is removed. Use it as a context manager.
    """

    def __init__(self, target: Path, source_kind: str, fps: float | None) -> None:
        check_target(target, source_kind)
        self.target, self.kind, self.fps = target, source_kind, fps or 15.0
        self.writer: cv2.VideoWriter | None = None
        self.written = 0
        self.stack = contextlib.ExitStack()

    def __enter__(self) -> "AnnotatedOutput":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stack.__exit__(kind, error, trace)  # releases the writer, then checks and renames the video

    def write(self, frame: Frame, annotated: np.ndarray) -> None:
        if self.kind == "image":
            self._write_image(self.target, annotated)
        elif self.kind == "dir":
            self._write_image(self.target / frame.name, annotated)
        else:
            writer = self._open_video(annotated.shape[1], annotated.shape[0]) if self.writer is None else self.writer
            with opencv_quiet():  # FFmpeg's own lines on a full disk: the check before the rename says it
                writer.write(annotated)
            self.written += 1

    def _write_image(self, target: Path, image: np.ndarray) -> None:
        """Encoded here and written by Python, so a failed write says why (read-only, permission, no room)."""
        if target.suffix.lower() == ".pgm" and image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)  # a PGM is grey; OpenCV refuses colour
        try:
            with opencv_quiet():
                encoded, data = cv2.imencode(target.suffix, image)
        except cv2.error:
            encoded = False
        if not encoded:
            height, width = image.shape[:2]
            raise EdgeEmotionError(
                f"cannot write {target}: OpenCV cannot encode a {width}x{height} image as {target.suffix}; "
                "save as .png or .jpg"
            )
        with atomic_path(target) as temporary:
            temporary.write_bytes(data.tobytes())

    def _open_video(self, width: int, height: int) -> cv2.VideoWriter:
        temporary = self.stack.enter_context(atomic_path(self.target, check=self._check_video))
        with write_errors(self.target):  # the folder's own refusal, with its reason, before the codec's
            temporary.open("wb").close()
        codec = VIDEO_CODECS[self.target.suffix.lower()]
        mp4 = self.target.suffix.lower() == ".mp4"
        with opencv_quiet():  # FFmpeg's "dimensions too large for MPEG-4": the error below says why
            if mp4 and encodes_h264():
                self.writer = cv2.VideoWriter(str(temporary), cv2.VideoWriter.fourcc(*H264), self.fps, (width, height))
                if self.writer.isOpened():
                    self.stack.callback(self._release)
                    return self.writer
            self.writer = cv2.VideoWriter(str(temporary), cv2.VideoWriter.fourcc(*codec), self.fps, (width, height))
        self.stack.callback(self._release)
        if mp4 and self.writer.isOpened():
            log.warning(
                "%s is saved as MPEG-4 Part 2, which browsers do not play: this OpenCV has the %s encoder but no "
                "H.264 (%s) one%s; convert it with: ffmpeg -i %s -c:v libx264 %s",
                self.target, codec, H264, " for this frame size" if encodes_h264() else "",
                self.target, self.target.with_name(f"{self.target.stem}-h264.mp4"),
            )  # fmt: skip
        if not self.writer.isOpened():
            raise EdgeEmotionError(f"cannot write video {self.target}: {refusal(codec, width, height, self.fps)}")
        return self.writer

    def _release(self) -> None:
        with opencv_quiet():
            if self.writer is not None:
                self.writer.release()

    def _check_video(self, temporary: Path) -> None:
        with opencv_quiet():  # a video cut short by a full disk: FFmpeg's "moov atom not found"
            capture = cv2.VideoCapture(str(temporary))
            readable = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
            capture.release()
        if readable < self.written:
            raise EdgeEmotionError(
                f"cannot write video {self.target}: {readable} of {self.written} frames could be read back "
                "(is the disk full?); nothing saved"
            )
