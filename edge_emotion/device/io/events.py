"""Machine-readable events, one JSON object per line, each naming its kind in ``event``.

A run's events start with ``settings``: the settings it resolved (model, detector, thresholds,
steadiness, tracking), whatever ``--events-mode`` says. Then ``frame``: every frame with every face in
it (zero faces included). For a tracked stream, the typed events an interface reacts to:
``face_enter``, ``change`` (id, from, to, confidence, time), ``face_leave`` and ``calibrated``.
``--events-mode`` picks frames, changes or all.
"""

import contextlib
import json
import os
import sys
from pathlib import Path

from edge_emotion.device.engine.recognizer import Face
from edge_emotion.device.io.sources import Frame
from edge_emotion.errors import EdgeEmotionError


def settings_event(settings: dict) -> dict:
    """The line that heads a run's events: what it ran with, so the events can be read without its command."""
    return {"event": "settings", "settings": settings}


def frame_event(frame: Frame, faces: list[Face], latency: dict[str, float]) -> dict:
    return {
        "event": "frame",
        "frame": frame.index,
        "time": round(frame.timestamp, 3),
        "source": frame.name,
        "faces": [face.as_dict() for face in faces],
        "latency_ms": {stage: round(1000 * seconds, 2) for stage, seconds in latency.items()},
    }


def typed_events(frame: Frame, events: list[dict]) -> list[dict]:
    """The recognizer's events of this frame, with the frame they happened on."""
    return [{**event, "frame": frame.index} for event in events]


def selected(mode: str, frame: dict, typed: list[dict]) -> list[dict]:
    """The lines ``--events-mode`` keeps: the frame line, the typed events, or both."""
    return ([frame] if mode != "changes" else []) + (typed if mode != "frames" else [])


class EventWriter:
    """JSON lines to a file or to stdout, written straight through per line so another program sees
    them live and a run that stops early keeps the events so far.

    A file only ever holds whole lines: a write that fails half-way (a full disk) is cut back to
    the last whole line, and the failure is an error that ends the run. A reader that goes away (the
    pipe closed: ``edge-emotion run ... | head -1``) is no error: ``gone`` is set, later lines go
    nowhere, and the loop stops as after Ctrl-C. Lines are strict JSON: NaN or infinity is an error.
    """

    def __init__(self, path: Path | None) -> None:
        path = None if path == Path("-") else path  # "-": stdout, as with no file
        self.path = path
        self.fd: int | None = None
        self.size = 0  # bytes of whole lines in the file
        self.gone = False  # the reader closed its end of the pipe
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            except OSError as error:
                raise EdgeEmotionError(f"cannot write events to {path} ({error.strerror})") from None

    def write(self, event: dict) -> None:
        if self.gone:
            return
        try:
            line = json.dumps(event, allow_nan=False) + "\n"
        except ValueError:
            kind = event.get("event", "an")
            raise EdgeEmotionError(
                f"cannot write a {kind} event: it holds NaN or infinity, which JSON cannot carry"
            ) from None
        try:
            if self.fd is None:
                sys.stdout.write(line)
                sys.stdout.flush()
            else:
                self._write_whole(self.fd, line.encode())
        except BrokenPipeError:
            self.gone = True
            if self.fd is None:
                stdout_to_null()
        except OSError as error:
            where = self.path or "stdout"
            raise EdgeEmotionError(f"cannot write events to {where} ({error.strerror}); stopped") from None

    def _write_whole(self, fd: int, data: bytes) -> None:
        """All of ``data``, or nothing: a line cut off by a failed write is truncated away."""
        written = 0
        try:
            while written < len(data):
                written += os.write(fd, data[written:])
        except OSError:
            with contextlib.suppress(OSError):  # /dev/full and pipes cannot be truncated
                os.ftruncate(fd, self.size)
            raise
        self.size += len(data)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def stdout_to_null() -> None:
    """Point stdout at /dev/null once its reader has gone, as Python's documentation advises for a closed
    pipe: what is still in its buffer is dropped at exit instead of failing there again."""
    with contextlib.suppress(AttributeError, OSError, ValueError):  # a stdout without a descriptor (tests)
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, sys.stdout.fileno())
        finally:
            os.close(null)
