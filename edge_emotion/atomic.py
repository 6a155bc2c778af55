"""Write files under a temporary name and rename, so a failed or killed run leaves nothing half-written.

A temporary sits beside its target as ``.{stem}.partial{suffix}``: a killed writer can leave
one behind, and the next write of the same target replaces it (``remove_partials`` clears
them for a whole set of targets). A full or read-only disk is an ``EdgeEmotionError`` that
names the file, not a traceback; so is a file that cannot be read (``reading``).
"""

import errno
import json
import os
import shutil
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edge_emotion.errors import EdgeEmotionError

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def partial_path(target: Path) -> Path:
    """Where ``target`` is written before it is renamed; the suffix stays, as Keras and OpenCV pick formats by it."""
    return target.with_name(f".{target.stem}.partial{target.suffix}")


def remove_partials(targets: Iterable[Path]) -> None:
    """Delete the temporaries a killed writer of these targets left behind."""
    for target in targets:
        partial_path(target).unlink(missing_ok=True)


@contextmanager
def write_errors(target: Path) -> Iterator[None]:
    """An OSError while writing ``target`` becomes one error that names it and the fix."""
    try:
        yield
    except OSError as error:
        fix = "free some space" if error.errno in NO_SPACE else "choose a folder you can write to"
        raise EdgeEmotionError(f"cannot write {target}: {error.strerror or error}; {fix}") from None


@contextmanager
def reading(path: Path, fix: str) -> Iterator[None]:
    """Any failure to read ``path`` becomes one error naming it and the fix.

    Keras, zipfile, h5py and json raise many kinds of exception for a damaged file.
    """
    try:
        yield
    except EdgeEmotionError:
        raise
    except Exception as error:
        lines = str(error).strip().splitlines()
        detail = f"{type(error).__name__}: {lines[0][:160]}" if lines else type(error).__name__
        if path.suffix == ".keras" and path.is_file() and not zipfile.is_zipfile(path):
            detail = "not a zip archive: damaged or cut short"
        raise EdgeEmotionError(f"{path}: cannot read it ({detail}); {fix}") from None


@contextmanager
def atomic_paths(*targets: Path, check: Callable[[Path], None] | None = None) -> Iterator[tuple[Path, ...]]:
    """Temporary paths beside ``targets``, renamed onto them on success, in an order that keeps them a pair.

    The first target is the one readers look for (a model); the others go with it (its
    sidecar). The old first target is removed, the others are renamed in, and the first
    comes last: a reader that finds the model finds its own sidecar, never another
    version's; a kill in between leaves a sidecar without a model, replaced by the next write.
    ``check`` inspects the finished first temporary and raises to keep it from being renamed,
    for writers that do not report failed writes (OpenCV's VideoWriter).
    """
    temporaries = tuple(partial_path(target) for target in targets)
    try:
        with write_errors(targets[0]):
            for target in targets:
                target.parent.mkdir(parents=True, exist_ok=True)
            yield temporaries
            if check is not None:
                check(temporaries[0])
            if len(targets) > 1:
                targets[0].unlink(missing_ok=True)
            for temporary, target in [*zip(temporaries[1:], targets[1:], strict=True), (temporaries[0], targets[0])]:
                os.replace(temporary, target)
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)


@contextmanager
def atomic_path(target: Path, check: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` (same suffix); rename it onto ``target`` on success."""
    with atomic_paths(target, check=check) as (temporary,):
        yield temporary


def check_writable(folder: Path, *, room: int = 0) -> None:
    """Fail before slow work when files cannot be written in ``folder``, or ``room`` bytes would not fit.

    Creates nothing: a folder not made yet is judged by the nearest existing one above it.
    """
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise EdgeEmotionError(f"cannot write in {folder}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise EdgeEmotionError(f"cannot write in {folder}: {existing} is read-only; choose a folder you can write to")
    free = shutil.disk_usage(existing).free
    if free < room:
        raise EdgeEmotionError(
            f"cannot write in {folder}: {free // 1024} KiB free, about {room // 1024 + 1} KiB needed; free some space"
        )


def write_text(target: Path, text: str) -> None:
    with atomic_path(target) as temporary:
        temporary.write_text(text)


def write_json(target: Path, data: Any) -> None:
    write_text(target, json.dumps(data, indent=2) + "\n")


def copy_file(source: Path, target: Path) -> None:
    with atomic_path(target) as temporary:
        shutil.copyfile(source, temporary)
