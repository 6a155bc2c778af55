"""A run's flags: ``TrainConfig``, its config.json, the checks on its values and what a resume may change.

Kept apart from the trainer, so reading a run's or member's config.json (to load its model,
name its data or write its command line) imports no training code.
"""

import json
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from edge_emotion.atomic import reading
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.training.data import check_vote_weight
from edge_emotion.training.models import check_arch


@dataclass(frozen=True)
class TrainConfig:
    """Every flag that shapes a run; saved as config.json so the run can be reproduced and resumed."""

    data: str
    arch: str = "seed"
    train_split: str = "Training"
    val_split: str = "PublicTest"
    ferplus: str | None = None
    soft_labels: bool = False
    ferplus_weight: float = 1.0
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-3
    schedule: str = "constant"
    label_smoothing: float = 0.0
    weight_decay: float = 0.0
    augment: bool = True
    blur: float = 0.0
    corrupt: float = 0.0
    occlude: float = 0.0
    low_pass: float = 0.0
    precision: str = "float32"
    teachers: tuple[str, ...] = ()
    distill_weight: float = 0.5
    init_from: str | None = None
    seed: int = 0
    strategy: str = "auto"
    devices: tuple[str, ...] = ()
    stream: bool = False
    cache: str | None = None


SCHEDULES = ("constant", "cosine")
PRECISIONS = ("float32", "mixed_bfloat16")
# Flags that say how and where a run trains, not what it learns: a resumed run may change them.
PLACEMENT = ("strategy", "devices", "stream", "cache")
# Tuple fields, each set by repeating a singular flag: --teacher A --teacher B.
REPEATED_FLAGS = {"teachers": "teacher", "devices": "device"}
CONFIG_FIX = "restore the file, or train the run again in a new --out"


# What each TrainConfig field may hold in config.json, and how to say so.
JSON_TYPES: dict[Any, tuple[tuple[type, ...], str]] = {
    bool: ((bool,), "true or false"),
    int: ((int,), "an integer"),
    float: ((int, float), "a number"),
    str: ((str,), "a string"),
    str | None: ((str, type(None)), "a string or null"),
    tuple[str, ...]: ((list, tuple), "a list of strings"),
}


def config_from_dict(data: Any, source: str, *, allow_unknown: bool = False, fix: str = CONFIG_FIX) -> TrainConfig:
    """A TrainConfig from its JSON form, every flag checked against its type; errors name ``source`` and ``fix``.

    ``allow_unknown`` passes over flags of another version, which is enough to load a model
    but not to resume: a flag this version lacks would shape the rest of the run.
    """
    if not isinstance(data, dict) or "data" not in data:
        raise EdgeEmotionError(f"{source}: not a run's flags (a JSON object with data, arch, ...); {fix}")
    known = {field.name: field.type for field in fields(TrainConfig)}
    unknown = sorted(set(data) - set(known))
    if unknown and not allow_unknown:
        raise EdgeEmotionError(
            f"{source}: cannot resume this run's flags ({', '.join(unknown)}: written by another version)"
        )
    values: dict[str, Any] = {}
    for name in [name for name in data if name in known]:
        value, (kinds, expected) = data[name], JSON_TYPES[known[name]]
        strings = all(isinstance(item, str) for item in value) if isinstance(value, list | tuple) else True
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds) or not strings:
            raise EdgeEmotionError(f"{source}: {name} is {json.dumps(value)}, expected {expected}; {fix}")
        if known[name] is float and isinstance(value, int | float):
            value = float(value)  # JSON's 1 for a float flag is 1.0
        values[name] = tuple(value) if isinstance(value, list) else value
    return TrainConfig(**values)


def load_config(path: Path, *, allow_unknown: bool = False) -> TrainConfig:
    """A run's (or member's) config.json, every flag checked against its type (see ``config_from_dict``)."""
    with reading(path, CONFIG_FIX):
        data = json.loads(path.read_text())
    return config_from_dict(data, str(path), allow_unknown=allow_unknown)


def command_flag(name: str, value: Any) -> str:
    """The ``train`` flag that sets TrainConfig field ``name`` to ``value``."""
    flag = "--" + REPEATED_FLAGS.get(name, name).replace("_", "-")
    if isinstance(value, bool):
        return flag if value else f"--no-{flag[2:]}"
    if isinstance(value, list | tuple):
        return " ".join(f"{flag} {item}" for item in value)
    return f"{flag} {value}"


def train_command(config: TrainConfig) -> str:
    """The ``edge-emotion train`` command line that reproduces ``config`` (flags that differ from the defaults)."""
    parts = ["edge-emotion train"]
    for field in fields(TrainConfig):
        value = getattr(config, field.name)
        if value != field.default or field.name == "data":
            parts.append(command_flag(field.name, value))
    return " ".join(parts)


def check_flags(config: TrainConfig) -> None:
    """Flag values that cannot work, refused before TensorFlow is imported or any data read.

    The models that --teacher and --init-from name are the model resolver's to check
    (``edge_emotion.training.resolve.find_model``); the trainer checks them right after these.
    """
    check_arch(config.arch)
    for flag, value, choices in (("schedule", config.schedule, SCHEDULES), ("precision", config.precision, PRECISIONS)):
        if value not in choices:
            raise EdgeEmotionError(f"unknown --{flag} {value!r}; use {' or '.join(choices)}")
    if not Path(config.data).exists():
        raise EdgeEmotionError(f"data not found: {config.data} (--data takes a FER2013 CSV or a folder)")
    if config.ferplus and not Path(config.ferplus).is_file():
        raise EdgeEmotionError(f"FER+ file not found: {config.ferplus}")
    check_vote_weight(config.ferplus_weight)
    if not 0.0 <= config.corrupt <= 1.0:
        raise EdgeEmotionError(f"--corrupt is the share of faces corrupted, within 0..1, got {config.corrupt}")
    if not 0.0 <= config.occlude <= 1.0:
        raise EdgeEmotionError(f"--occlude is the share of faces covered in part, within 0..1, got {config.occlude}")


def resumed_config(saved: TrainConfig, given: dict[str, Any], out: Path, *, started: bool) -> TrainConfig:
    """The resume policy: the saved config with ``epochs`` (where the schedule allows) and PLACEMENT from ``given``.

    ``given`` holds the flags set again (those on the command line); any other must equal the
    saved one. ``epochs`` moves the end of a constant-schedule run (a cosine schedule's length is
    part of its optimizer); before the first epoch is saved (``started`` False) it may change
    whatever the schedule. ``given`` is consumed.
    """
    epochs = given.pop("epochs", saved.epochs)
    placement = {name: given.pop(name) for name in PLACEMENT if name in given}
    differ = [
        f"{command_flag(name, value)} (the run has {command_flag(name, getattr(saved, name)) or 'none'})"
        for name, value in given.items()
        if value != getattr(saved, name)
    ]
    if differ:
        raise EdgeEmotionError(
            f"{out}: --resume keeps the run's flags; leave out {', '.join(differ)}, or start a new run in another --out"
        )
    if epochs != saved.epochs and saved.schedule != "constant" and started:
        raise EdgeEmotionError(
            f"{out}: its {saved.schedule} schedule was fixed at {saved.epochs} epochs when it started; "
            f"to train on, start a new run from it: edge-emotion train --init-from {out} --out NEW_FOLDER"
        )
    return replace(saved, epochs=epochs, **placement)
