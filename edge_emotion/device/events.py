"""Machine-readable events: one JSON line per frame, with every face in it (zero faces included)."""

import json
import sys
from pathlib import Path
from typing import TextIO

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
    """JSON lines to a file or to stdout, flushed per line so another program sees them live and a
    run that stops early keeps the events so far."""

    def __init__(self, path: Path | None) -> None:
        self.stream: TextIO = sys.stdout
        self.owned = path is not None
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.stream = path.open("w")
            except OSError as error:
                raise EdgeEmotionError(f"cannot write events to {path} ({error.strerror})") from None

    def write(self, event: dict) -> None:
        self.stream.write(json.dumps(event) + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.owned:
            self.stream.close()
