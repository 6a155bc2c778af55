"""Train an architecture: Adam, categorical cross-entropy, a checkpoint every epoch, resume."""

import json
import re
import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from edge_emotion.atomic import check_writable, copy_file, remove_partials, write_json, write_text
from edge_emotion.data import FaceFiles, FaceSet, canonical_split, check_vote_weight, folder_splits, load_splits
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.plots import plot_curves
from edge_emotion.resolve import load_model, model_kind
from edge_emotion.shipped import SHIPPED, model_path
from edge_emotion.tf_import import import_keras, import_tf
from edge_emotion.training.augment import Jitter
from edge_emotion.training.distill import cached_teacher_probabilities, distilled
from edge_emotion.training.distribute import (
    PEER_TIMEOUT,
    Cluster,
    backed_up_epoch,
    backup_dir,
    make_strategy,
    remove_backups,
    writing_folder,
)
from edge_emotion.training.members import set_weights
from edge_emotion.training.models import build_model, check_arch
from edge_emotion.training.pipeline import make_dataset, release_pipelines
from edge_emotion.training.progress import TrainLog, faces_line, progress
from edge_emotion.training.run_folder import METRICS, RunFolder, reading


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
# An image folder's split of more faces than this is read from disk while training, not held in memory
# (FER2013's 28,709 training faces stay in memory: about 0.4 GB as model inputs).
STREAM_ABOVE = 50_000


# What each TrainConfig field may hold in config.json, and how to say so.
JSON_TYPES: dict[Any, tuple[tuple[type, ...], str]] = {
    bool: ((bool,), "true or false"),
    int: ((int,), "an integer"),
    float: ((int, float), "a number"),
    str: ((str,), "a string"),
    str | None: ((str, type(None)), "a string or null"),
    tuple[str, ...]: ((list,), "a list of strings"),
}


def load_config(path: Path, *, allow_unknown: bool = False) -> TrainConfig:
    """A run's config.json, every flag checked against its type.

    ``allow_unknown`` passes over flags of another version, which is enough to load a model
    but not to resume: a flag this version lacks would shape the rest of the run.
    """
    fix = "restore the file, or train the run again in a new --out"
    with reading(path, fix):
        data = json.loads(path.read_text())
    if not isinstance(data, dict) or "data" not in data:
        raise EdgeEmotionError(f"{path}: not a run's flags (a JSON object with data, arch, ...); {fix}")
    known = {field.name: field.type for field in fields(TrainConfig)}
    unknown = sorted(set(data) - set(known))
    if unknown and not allow_unknown:
        raise EdgeEmotionError(
            f"{path}: cannot resume this run's flags ({', '.join(unknown)}: written by another version)"
        )
    values = {}
    for name in [name for name in data if name in known]:
        value, (kinds, expected) = data[name], JSON_TYPES[known[name]]
        strings = all(isinstance(item, str) for item in value) if isinstance(value, list) else True
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds) or not strings:
            raise EdgeEmotionError(f"{path}: {name} is {json.dumps(value)}, expected {expected}; {fix}")
        values[name] = tuple(value) if isinstance(value, list) else float(value) if known[name] is float else value
    return TrainConfig(**values)


def command_flag(name: str, value: Any) -> str:
    """The ``train`` flag that sets TrainConfig field ``name`` to ``value``."""
    flag = "--" + REPEATED_FLAGS.get(name, name).replace("_", "-")
    if isinstance(value, bool):
        return flag if value else f"--no-{flag[2:]}"
    if isinstance(value, list | tuple):
        return " ".join(f"{flag} {item}" for item in value)
    return f"{flag} {value}"


def load_split_pair(config: TrainConfig, *, streaming: bool = False) -> tuple[FaceSet | FaceFiles, FaceSet | FaceFiles]:
    """The training and validation faces the config names, each checked to be non-empty.

    With ``streaming``, a split of an image folder stays on disk (FaceFiles) when it holds
    more than STREAM_ABOVE faces, or whatever its size with ``--stream``; else FaceSets.
    """
    data = Path(config.data)
    ferplus = Path(config.ferplus) if config.ferplus else None
    splits = [config.train_split, config.val_split]
    if streaming and config.stream and data.is_file():
        raise EdgeEmotionError(f"{config.data}: --stream reads an image folder; a CSV is read whole (leave it out)")
    if streaming and data.is_dir() and ferplus is None:
        loaded = folder_splits(data, splits, 0 if config.stream else STREAM_ABOVE)
    else:
        weight = config.ferplus_weight if ferplus else None
        loaded = load_splits(data, splits, ferplus, config.soft_labels, weight)
    train, val = (loaded[canonical_split(s)] for s in splits)
    if train.source == val.source:
        raise EdgeEmotionError(
            f"{config.data}: {config.train_split} and {config.val_split} are the same faces; "
            "give the data train/ and val/ (or test/) folders"
        )
    for name, faces in ((config.train_split, train), (config.val_split, val)):
        if len(faces) == 0:
            raise EdgeEmotionError(f"{config.data}: split {name} has no faces")
    return train, val


def check_flags(config: TrainConfig) -> None:
    """Flag values that cannot work, refused before TensorFlow is imported or any data read."""
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
    for model in (*config.teachers, *([config.init_from] if config.init_from else [])):
        model_kind(model_file(model))


def model_file(model: str) -> Path:
    """What --teacher and --init-from name: a shipped model (fast, accurate) as its file, else a path."""
    return model_path(model) if model in SHIPPED else Path(model)


def _learning_rate(config: TrainConfig, steps_per_epoch: int) -> Any:
    if config.schedule == "cosine":
        return import_keras().optimizers.schedules.CosineDecay(config.learning_rate, config.epochs * steps_per_epoch)
    return config.learning_rate


def compile_model(config: TrainConfig, steps_per_epoch: int) -> Any:
    keras = import_keras()
    keras.mixed_precision.set_global_policy(config.precision)
    model = build_model(config.arch)
    model.compile(
        optimizer=keras.optimizers.Adam(
            _learning_rate(config, steps_per_epoch), weight_decay=config.weight_decay or None
        ),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy"],
    )
    return model


def _write_derived(run: RunFolder, state: dict[str, Any]) -> None:
    """What follows from the checkpoint's state: best.keras when the last epoch is the best, history and curves.

    Rewritten after every checkpoint and again on resume, so a kill between them loses nothing.
    """
    if state["best_epoch"] == state["epoch"]:
        copy_file(run.last, run.best)
    rows = zip(*(state["history"][name] for name in METRICS), strict=False)
    lines = [f"{i + 1}," + ",".join(f"{v:.6g}" for v in row) for i, row in enumerate(rows)]
    write_text(run.history, "\n".join(["epoch," + ",".join(METRICS), *lines]) + "\n")
    plot_curves(state["history"], run.curves, best_epoch=state["best_epoch"])


def recorder(run: RunFolder, state: dict[str, Any]) -> Any:
    """A Keras callback that saves the checkpoint with the run's state after every epoch, then what follows from it."""
    keras = import_keras()

    class RunRecorder(keras.callbacks.Callback):
        def on_train_begin(self, logs: dict | None = None) -> None:
            self.started = time.monotonic()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = dict(logs or {})
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            for name in METRICS:
                state["history"].setdefault(name, []).append(float(logs.get(name, "nan")))
            state["epoch"] = epoch + 1
            state["seconds"] += time.monotonic() - self.started
            self.started = time.monotonic()
            if logs["val_accuracy"] > state["best_val_accuracy"]:
                state.update(best_val_accuracy=logs["val_accuracy"], best_epoch=epoch + 1)
            run.save_checkpoint(self.model, state)
            run.state.unlink(missing_ok=True)  # an older run's state.json, now behind the checkpoint
            _write_derived(run, state)

    return RunRecorder()


def train(
    *,
    out: Path,
    config: TrainConfig | None = None,
    resume: bool = False,
    given: Mapping[str, Any] | None = None,
    peer_timeout: float = PEER_TIMEOUT,
) -> dict[str, Any]:
    """Train in the run folder ``out``; return the run's summary (also written to summary.json).

    A new run takes its flags from ``config``. ``resume`` continues the run in ``out`` from its
    last saved epoch with its saved flags (``config`` is not used); ``given`` holds flags set
    again (those typed on the command line), by TrainConfig field name: each must equal the
    saved one, except ``epochs`` (the new end of a constant-schedule run) and where and how it
    trains (``strategy``, ``devices``, ``stream``, ``cache``). ``peer_timeout`` is how long a
    multiworker run waits for its workers. Flags that cannot work fail before any data is read;
    what was loaded and how far it is are printed and kept in ``out``/train.log.
    """
    if resume:
        return _resume(out, dict(given or {}), peer_timeout=peer_timeout)
    if config is None:
        raise TypeError("train() needs config for a new run, or resume=True to continue one")
    return _start(config, out, peer_timeout=peer_timeout)


def _start(config: TrainConfig, out: Path, *, peer_timeout: float) -> dict[str, Any]:
    """Start the run in ``out``.

    A folder whose run never saved an epoch (killed in its first) starts over with ``config``.
    A worker of a multiworker run started again with the same command continues from its
    backup (Keras BackupAndRestore), where every worker saved its last finished epoch.
    """
    check_flags(config)
    strategy, cluster = make_strategy(config.strategy, devices=config.devices, peer_timeout=peer_timeout)
    backup = backup_dir(out, cluster)
    with writing_folder(out, cluster) as folder:
        run = RunFolder(folder)
        restart = backup is not None and backup.is_dir()
        if run.started and not restart:
            raise EdgeEmotionError(f"{out} already holds a run; continue it with --resume, or use another --out")
        if restart and not run.started and folder == out:
            raise EdgeEmotionError(
                f"{backup}: a backup of a run that is not in {out}; "
                f"delete {backup.parent} on every worker and start again"
            )
        if run.started and load_config(run.config) != config:
            raise EdgeEmotionError(
                f"{out}: restart every worker with the command it started with (its flags are in {run.config})"
            )
        check_writable(folder)
        if not run.started:
            run.teacher_targets.unlink(missing_ok=True)  # cached for the attempt that never saved an epoch
        state = run.read_state() if run.started else None
        return _fit(config, run, state, strategy=strategy, cluster=cluster, backup=backup)


def _resume(out: Path, given: dict[str, Any], *, peer_timeout: float) -> dict[str, Any]:
    """Continue the run in ``out`` with its saved flags; a run killed before it saved an epoch starts again.

    ``given`` holds flags set again (those on the command line): each must equal the saved
    one, except ``epochs``, which moves the end of a constant-schedule run (a cosine
    schedule's length is part of its optimizer) and cannot go below the epochs done; before
    the first epoch is saved, ``epochs`` may change whatever the schedule. The PLACEMENT
    flags may change too. Every worker of a multiworker run needs ``out`` (a shared folder).
    """
    run = RunFolder(out)
    if not run.config.is_file():
        raise EdgeEmotionError(f"{out}: nothing to resume (no config.json); start it without --resume")
    saved = load_config(run.config)
    config = _resumed_config(saved, given, out, started=run.started)
    check_flags(config)
    state = run.read_state() if run.started else None
    if state and config.epochs < state["epoch"]:
        raise EdgeEmotionError(f"{out}: the run has trained {state['epoch']} epochs; --epochs cannot be fewer")
    strategy, cluster = make_strategy(config.strategy, devices=config.devices, peer_timeout=peer_timeout)
    with writing_folder(out, cluster) as folder:
        if folder != out:  # a worker other than the chief continues from a copy of the run, in its own folder
            shutil.copytree(out, folder, dirs_exist_ok=True)
        run = RunFolder(folder)
        check_writable(folder)
        backup = backup_dir(out, cluster)
        return _fit(config, run, state, strategy=strategy, cluster=cluster, backup=backup, load=state is not None)


def _resumed_config(saved: TrainConfig, given: dict[str, Any], out: Path, *, started: bool) -> TrainConfig:
    """The saved config with ``epochs`` (where the schedule allows) and PLACEMENT from ``given``; others must agree."""
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


def _cache(cache: str | None, cluster: Cluster | None) -> str | None:
    """The tf.data cache prefix of streamed faces: ``--cache``, one per worker (two on a machine must not share)."""
    if cache is None:
        return None
    Path(cache).parent.mkdir(parents=True, exist_ok=True)
    return f"{cache}.{cluster.name}" if cluster else cache


def _rewound(state: dict[str, Any], epoch: int) -> dict[str, Any]:
    """``state`` as it was after ``epoch`` epochs, its best epoch among those."""
    history = {name: values[:epoch] for name, values in state["history"].items()}
    accuracies = history.get("val_accuracy", [])
    best = max(range(len(accuracies)), key=accuracies.__getitem__, default=-1)
    best_accuracy = accuracies[best] if accuracies else -1.0
    return {**state, "epoch": epoch, "history": history, "best_epoch": best + 1, "best_val_accuracy": best_accuracy}


@contextmanager
def _fit_errors(backup: Path | None, model: Any) -> Iterator[None]:
    """One line, not TensorFlow's traceback, for a streamed face that cannot be read and for a worker that stopped;
    the data pipelines of ``model``'s fit stopped first, so the process exits cleanly."""
    tf = import_tf()
    try:
        yield
    except tf.errors.OpError as error:
        release_pipelines(error, model)
        found = re.search(r"EdgeEmotionError: (.*)$", error.message, re.MULTILINE)  # after the iterator's name
        if found is not None:
            raise EdgeEmotionError(found.group(1)) from None
        if backup is not None and isinstance(error, tf.errors.UnavailableError | tf.errors.DeadlineExceededError):
            raise EdgeEmotionError(
                f"a worker stopped or stopped answering ({type(error).__name__}); start every worker again with "
                f"the command it started with: each goes on from the last finished epoch in its {backup.parent}/"
            ) from None
        raise


def _fit(
    config: TrainConfig,
    run: RunFolder,
    state: dict[str, Any] | None,
    *,
    strategy: Any,
    cluster: Cluster | None = None,
    backup: Path | None = None,
    load: bool = False,
) -> dict[str, Any]:
    """Train ``config`` in ``run`` from ``state`` (None: from scratch) to its last epoch; the run's summary.

    The model, its optimizer and metrics are built under ``strategy``: loaded from the run's
    checkpoint with ``load``, else made new. Every worker of a cluster must build alike (the
    variables are made together); on a restart they all make new ones and their ``backup``
    (Keras BackupAndRestore) fills them in and says which epoch to go on from.
    """
    keras = import_keras()
    remove_partials(run.files)
    fresh = state is None
    state = state or {"epoch": 0, "seconds": 0.0, "best_val_accuracy": -1.0, "best_epoch": 0, "history": {}}
    first = backed_up_epoch(backup) or state["epoch"]
    if first < state["epoch"]:  # stopped between the checkpoint and the backup: that epoch is trained again
        state = _rewound(state, first)
    # A warm start's weights load before the data, so a wrong --init-from fails fast.
    start = (
        load_model(model_file(config.init_from), keras=True).model.get_weights() if config.init_from and fresh else None
    )
    train_faces, val_faces = load_split_pair(config, streaming=True)
    say = TrainLog(run.log)
    say(faces_line(config.train_split, train_faces))
    say(faces_line(config.val_split, val_faces))
    if config.teachers:
        if isinstance(train_faces, FaceFiles):
            raise EdgeEmotionError(
                f"{train_faces.source}: --teacher needs the training faces in memory; leave out --stream"
            )
        say(f"distilling {', '.join(config.teachers)} into the targets (weight {config.distill_weight})")
        teacher = cached_teacher_probabilities(list(map(model_file, config.teachers)), train_faces, run.teacher_targets)
        train_faces = distilled(train_faces, teacher, config.distill_weight)
    keras.utils.set_random_seed(config.seed + first)  # the same on every worker: they shard one order of faces
    contract = {"seed": config.seed, "low_pass_sigma": config.low_pass, "cache": _cache(config.cache, cluster)}
    jitter = Jitter(blur=config.blur, corrupt=config.corrupt)
    train_data = make_dataset(
        train_faces, config.batch_size, train=True, augment=config.augment, jitter=jitter, **contract
    )
    val_data = make_dataset(val_faces, config.batch_size, train=False, augment=False, **contract)
    with strategy.scope():  # variables made here are mirrored on every replica
        if load:
            with reading(run.last, f"the run cannot resume; {run.start_over_hint}"):
                model = keras.models.load_model(run.last)
        else:
            model = compile_model(config, len(train_data))
            if start is not None:  # a warm start: these weights, a fresh optimizer and a new schedule
                set_weights(model, start, Path(config.init_from))
    # The flags are saved once everything has loaded: a resume that fails leaves config.json as it was.
    if fresh or (load and load_config(run.config) != config):
        write_json(run.config, asdict(config))
    if load:
        _write_derived(run, state)
    say(
        f"model {config.arch}: {model.count_params():,} parameters in {config.precision}; batch {config.batch_size}, "
        f"{len(train_data)} steps per epoch; epochs {first + 1} to {config.epochs}"
    )
    callbacks = [recorder(run, state), progress(say, state)]
    if backup is not None:  # after the recorder, so a backup is never ahead of the run's checkpoint
        callbacks.append(keras.callbacks.BackupAndRestore(str(backup)))
    if first < config.epochs:
        with _fit_errors(backup, model):
            model.fit(
                train_data,
                validation_data=val_data,
                epochs=config.epochs,
                initial_epoch=first,
                callbacks=callbacks,
                shuffle=False,  # the tf.data pipeline reshuffles every epoch itself
                verbose=0,  # the progress callback says it, terminal or not
            )
    if backup is not None:
        remove_backups(backup)
    summary = run_summary(
        config, model, state, train_faces=len(train_faces), val_faces=len(val_faces),
        streamed=isinstance(train_faces, FaceFiles), replicas=int(strategy.num_replicas_in_sync),
    )  # fmt: skip
    write_json(run.summary, summary)
    return summary


def run_summary(
    config: TrainConfig, model: Any, state: dict[str, Any], *, train_faces: int, val_faces: int, **how: Any
) -> dict[str, Any]:
    """What a finished run says of itself in summary.json (and a member's record of the stretch);
    ``how`` adds how it trained (streamed, replicas, the machine)."""
    return {
        "arch": config.arch,
        "params": int(model.count_params()),
        "data": config.data,
        "train_faces": train_faces,
        "val_faces": val_faces,
        **how,
        "val_split": config.val_split,
        "seed": config.seed,
        "epochs": state["epoch"],
        "seconds": round(state["seconds"], 1),
        "seconds_per_epoch": round(state["seconds"] / max(state["epoch"], 1), 1),
        "best_epoch": state["best_epoch"],
        "best_val_accuracy": round(state["best_val_accuracy"], 4),
    }
