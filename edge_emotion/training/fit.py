"""Train an architecture: Adam, categorical cross-entropy, a checkpoint every epoch, resume.

A run's flags, their checks and what a resume may change live in ``training.config``; the
faces it trains on come from ``training.splits``; this module is the fit itself.
"""

import re
import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from edge_emotion.atomic import check_writable, copy_file, reading, remove_partials, write_json, write_text
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.training.augment import Jitter
from edge_emotion.training.config import TrainConfig, check_flags, load_config, resumed_config
from edge_emotion.training.data import FaceFiles
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
from edge_emotion.training.models import build_model, set_weights
from edge_emotion.training.pipeline import make_dataset, release_pipelines
from edge_emotion.training.plots import plot_curves
from edge_emotion.training.progress import TrainLog, faces_line, progress
from edge_emotion.training.resolve import find_model, load_model
from edge_emotion.training.run_folder import METRICS, RunFolder, new_state
from edge_emotion.training.splits import load_split_pair
from edge_emotion.training.tf_import import import_keras, import_tf


def check_run(config: TrainConfig) -> None:
    """Everything that can be refused before TensorFlow is imported or any data read: the flags' values,
    then the models --teacher and --init-from name (which must be Keras weights)."""
    check_flags(config)
    for teacher in config.teachers:
        find_model(teacher)
    if config.init_from:
        find_model(config.init_from, keras=True)


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
    callback: Any = keras.callbacks.Callback  # a base class only once Keras is imported (a name mypy can use)

    class RunRecorder(callback):
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
    check_run(config)
    strategy, cluster = make_strategy(config.strategy, devices=config.devices, peer_timeout=peer_timeout)
    backup = backup_dir(out, cluster)
    with writing_folder(out, cluster) as folder:
        run = RunFolder(folder)
        restart = backup is not None and backup.is_dir()
        if run.started and not restart:
            raise EdgeEmotionError(f"{out} already holds a run; continue it with --resume, or use another --out")
        if restart and backup is not None and not run.started and folder == out:
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
    config = resumed_config(saved, given, out, started=run.started)
    check_run(config)
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
    state = state or new_state()
    first = backed_up_epoch(backup) or state["epoch"]
    if first < state["epoch"]:  # stopped between the checkpoint and the backup: that epoch is trained again
        state = _rewound(state, first)
    # A warm start's weights load before the data, so a wrong --init-from fails fast.
    start = load_model(config.init_from, keras=True).model.get_weights() if config.init_from and fresh else None
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
        teacher = cached_teacher_probabilities(config.teachers, train_faces, run.teacher_targets)
        train_faces = distilled(train_faces, teacher, config.distill_weight)
    keras.utils.set_random_seed(config.seed + first)  # the same on every worker: they shard one order of faces
    contract: dict[str, Any] = {
        "seed": config.seed,
        "low_pass_sigma": config.low_pass,
        "cache": _cache(config.cache, cluster),
    }
    jitter = Jitter(blur=config.blur, corrupt=config.corrupt, occlude=config.occlude)
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
            if (
                start is not None and config.init_from
            ):  # a warm start: these weights, a fresh optimizer and a new schedule
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
