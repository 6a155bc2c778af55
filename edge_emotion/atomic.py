"""Write files under a temporary name and rename, so a failed or killed run leaves nothing half-written."""

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edge_emotion.errors import EdgeEmotionError


@contextmanager
def atomic_path(target: Path, check: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` (same suffix); rename it onto ``target`` on success.

    The suffix is kept because some writers (Keras, OpenCV) choose the format from it.
    ``check`` inspects the finished temporary file and raises to keep it from being renamed,
    for writers that do not report failed writes.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.stem}.partial{target.suffix}")
    try:
        yield temporary
        if check is not None:
            check(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def check_writable(folder: Path) -> None:
    """Create ``folder`` if needed and make sure a file can be created in it, before any work is done."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise EdgeEmotionError(f"cannot write in {folder} ({error.strerror})") from None


def write_text(target: Path, text: str) -> None:
    with atomic_path(target) as temporary:
        temporary.write_text(text)


def write_json(target: Path, data: Any) -> None:
    write_text(target, json.dumps(data, indent=2) + "\n")
