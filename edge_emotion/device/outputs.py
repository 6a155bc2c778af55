"""Where annotated frames go: an image file, a folder of images, or a video file."""

import contextlib
from pathlib import Path

import cv2
import numpy as np

from edge_emotion.atomic import atomic_path, check_writable
from edge_emotion.device.sources import Frame
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.preprocess import IMAGE_SUFFIXES

VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "mp4v"}


def check_target(target: Path, source_kind: str) -> None:
    """Refuse a ``--save`` target that cannot work before any frame is read: a suffix OpenCV
    cannot write for this kind of source, or a folder where no file can be created."""
    suffix = target.suffix.lower()
    if source_kind in ("camera", "video") and suffix not in VIDEO_CODECS:
        raise EdgeEmotionError(f"--save {target}: a video needs one of {', '.join(VIDEO_CODECS)}")
    if source_kind == "image" and suffix not in IMAGE_SUFFIXES:
        raise EdgeEmotionError(f"--save {target}: an image needs one of {', '.join(sorted(IMAGE_SUFFIXES))}")
    check_writable(target if source_kind == "dir" else target.parent)


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

    def __exit__(self, *exc_info: object) -> None:
        self.stack.__exit__(*exc_info)  # releases the writer, then checks and renames the video

    def write(self, frame: Frame, annotated: np.ndarray) -> None:
        if self.kind == "image":
            self._write_image(self.target, annotated)
        elif self.kind == "dir":
            self._write_image(self.target / frame.name, annotated)
        else:
            if self.writer is None:
                self._open_video(annotated.shape[1], annotated.shape[0])
            self.writer.write(annotated)
            self.written += 1

    def _write_image(self, target: Path, image: np.ndarray) -> None:
        with atomic_path(target) as temporary:
            if not cv2.imwrite(str(temporary), image):
                raise EdgeEmotionError(f"cannot write {target} (is the disk full?)")

    def _open_video(self, width: int, height: int) -> None:
        temporary = self.stack.enter_context(atomic_path(self.target, check=self._check_video))
        codec = cv2.VideoWriter_fourcc(*VIDEO_CODECS[self.target.suffix.lower()])
        self.writer = cv2.VideoWriter(str(temporary), codec, self.fps, (width, height))
        self.stack.callback(self.writer.release)
        if not self.writer.isOpened():
            raise EdgeEmotionError(f"cannot write video {self.target}")

    def _check_video(self, temporary: Path) -> None:
        capture = cv2.VideoCapture(str(temporary))
        readable = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
        capture.release()
        if readable < self.written:
            raise EdgeEmotionError(
                f"cannot write video {self.target}: {readable} of {self.written} frames could be read back "
                "(is the disk full?); nothing saved"
            )
