"""Where annotated frames go: an image file, a folder of images, or a video file."""

import contextlib
from pathlib import Path

import cv2
import numpy as np

from edge_emotion.atomic import atomic_path
from edge_emotion.device.sources import Frame
from edge_emotion.errors import EdgeEmotionError

VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "mp4v"}


class AnnotatedOutput:
    """Saves annotated frames as the source calls for, each file written atomically.

    An image source saves to the ``--save`` file (one image) or folder (several); a camera
    or video source writes a video whose partial file is renamed into place when the run
    ends, and removed when it fails. Use it as a context manager.
    """

    def __init__(self, target: Path, source_kind: str, fps: float | None) -> None:
        self.target, self.kind, self.fps = target, source_kind, fps or 15.0
        self.writer: cv2.VideoWriter | None = None
        self.stack = contextlib.ExitStack()
        if source_kind in ("camera", "video") and target.suffix.lower() not in VIDEO_CODECS:
            raise EdgeEmotionError(f"--save {target}: a video needs one of {', '.join(VIDEO_CODECS)}")

    def __enter__(self) -> "AnnotatedOutput":
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.writer is not None:
            self.writer.release()
        self.stack.__exit__(*exc_info)

    def write(self, frame: Frame, annotated: np.ndarray) -> None:
        if self.kind == "image":
            self._write_image(self.target, annotated)
        elif self.kind == "dir":
            self._write_image(self.target / frame.name, annotated)
        else:
            if self.writer is None:
                self._open_video(annotated.shape[1], annotated.shape[0])
            self.writer.write(annotated)

    def _write_image(self, target: Path, image: np.ndarray) -> None:
        with atomic_path(target) as temporary:
            if not cv2.imwrite(str(temporary), image):
                raise EdgeEmotionError(f"cannot write {target} (is the suffix an image format?)")

    def _open_video(self, width: int, height: int) -> None:
        temporary = self.stack.enter_context(atomic_path(self.target))
        codec = cv2.VideoWriter_fourcc(*VIDEO_CODECS[self.target.suffix.lower()])
        self.writer = cv2.VideoWriter(str(temporary), codec, self.fps, (width, height))
        if not self.writer.isOpened():
            raise EdgeEmotionError(f"cannot write video {self.target}")
