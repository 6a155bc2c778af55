"""Machine-readable events: one JSON line per frame, with every face in it (zero faces included)."""

import contextlib
import json
import os
import sys
from pathlib import Path

from edge_emotion.device.recognizer import Face
from edge_emotion.device.sources import Frame
from edge_emotion.errors import EdgeEmotionError


def frame_event(frame: Frame, faces: list[Face], latency: dict[str, float]) -> dict:
    return {
        "frame": frame.index,
        "time": round(frame.timestamp, 3),
        "source": frame.name,
        "faces": [face.as_dict() for face in faces],
        "latency_ms": {stage: round(1000 * seconds, 2) for stage, seconds in latency.items()},
    }


class EventWriter:
    """JSON lines to a file or to stdout, written straight through per line so another program sees
    them live and a run that stops early keeps the events so far.

    A file only ever holds whole lines: a write that fails half-way (a full disk) is cut back to
    the last whole line, and the failure is an error that ends the run.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.fd: int | None = None
        self.size = 0  # bytes of whole lines in the file
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            except OSError as error:
                raise EdgeEmotionError(f"cannot write events to {path} ({error.strerror})") from None

    def write(self, event: dict) -> None:
        line = json.dumps(event) + "\n"
        try:
            if self.fd is None:
                sys.stdout.write(line)
                sys.stdout.flush()
            else:
                self._write_whole(line.encode())
        except OSError as error:
            where = self.path or "stdout"
            raise EdgeEmotionError(f"cannot write events to {where} ({error.strerror}); stopped") from None

    def _write_whole(self, data: bytes) -> None:
        """All of ``data``, or nothing: a line cut off by a failed write is truncated away."""
        written = 0
        try:
            while written < len(data):
                written += os.write(self.fd, data[written:])
        except OSError:
            with contextlib.suppress(OSError):  # /dev/full and pipes cannot be truncated
                os.ftruncate(self.fd, self.size)
            raise
        self.size += len(data)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
