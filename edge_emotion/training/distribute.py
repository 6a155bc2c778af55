"""Which tf.distribute strategy a run trains under, who writes the run folder, and a bounded wait for peers.

``default`` is one process on one device; ``mirrored`` copies the model onto every local
GPU (or the given devices) and splits each global batch between them; ``multiworker`` does
the same across processes and machines described by ``TF_CONFIG``. Keras ``fit`` does the
rest: the model, optimizer and metrics are built under ``strategy.scope()``.
"""

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_emotion.errors import EdgeEmotionError
from edge_emotion.training.tf_import import import_tf

log = logging.getLogger(__name__)
STRATEGIES = ("auto", "default", "mirrored", "multiworker")
PEER_TIMEOUT = 300.0  # seconds to wait for every worker to start, and for any one step's exchange


@dataclass(frozen=True)
class Cluster:
    """This process's place in ``TF_CONFIG``: every worker's address and which one this is."""

    workers: tuple[str, ...]
    task_type: str
    task_index: int

    @property
    def is_chief(self) -> bool:
        """Worker 0 (or the task named chief) writes the run folder; the others only compute."""
        return self.task_type == "chief" or (self.task_type == "worker" and self.task_index == 0)

    @property
    def name(self) -> str:
        """This worker's name in file names: ``worker-1``."""
        return f"{self.task_type}-{self.task_index}"


def cluster_from_env() -> Cluster | None:
    """The cluster ``TF_CONFIG`` describes, None when unset; one clear error when it is malformed."""
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    hint = 'e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'
    try:
        config = json.loads(text)
        workers = tuple(config["cluster"]["worker"])
        task_type, task_index = str(config["task"]["type"]), int(config["task"]["index"])
    except (ValueError, KeyError, TypeError):
        raise EdgeEmotionError(f"TF_CONFIG is not a valid cluster description; {hint}") from None
    if not workers or not all(isinstance(w, str) and w.rpartition(":")[2].isdigit() for w in workers):
        raise EdgeEmotionError(f"TF_CONFIG lists workers {list(workers)}; each must be host:port; {hint}")
    if task_type not in ("worker", "chief") or not 0 <= task_index < len(workers):
        raise EdgeEmotionError(
            f"TF_CONFIG task {task_type} {task_index} is not one of the {len(workers)} workers; {hint}"
        )
    return Cluster(workers, task_type, task_index)


def resolve(name: str, cluster: Cluster | None, devices: tuple[str, ...] = ()) -> str:
    """``auto``: multiworker when TF_CONFIG names several workers, mirrored with --device or GPUs, else default."""
    if name not in STRATEGIES:
        raise EdgeEmotionError(f"unknown strategy {name!r}; use one of {', '.join(STRATEGIES)}")
    if name == "multiworker" and cluster is None:
        raise EdgeEmotionError("--strategy multiworker needs TF_CONFIG (see the README: More than one machine)")
    if devices and name not in ("auto", "mirrored"):
        raise EdgeEmotionError(f"--device names the devices of --strategy mirrored, not of {name}; leave it out")
    if name != "auto":
        return name
    if cluster is not None and len(cluster.workers) > 1 and not devices:
        return "multiworker"
    return "mirrored" if devices or len(import_tf().config.list_logical_devices("GPU")) > 1 else "default"


# A separate process: while TensorFlow blocks, this one holds the GIL, so no thread of ours could run.
WATCHDOG = (
    "import os, signal, sys, time; time.sleep(float(sys.argv[2])); "
    "print(sys.argv[3], file=sys.stderr, flush=True); os.kill(int(sys.argv[1]), signal.SIGKILL)"
)


@contextmanager
def deadline(seconds: float, what: str) -> Iterator[None]:
    """Stop this process with one clear line if the block has not finished within ``seconds``.

    Joining a cluster blocks inside TensorFlow's C++ runtime until every peer answers, and
    ignores SIGTERM meanwhile, so a wrong address would hang for ever: a watchdog process
    prints the reason and kills this one.
    """
    message = f"error: {what} did not finish within {seconds:.0f} s"
    watchdog = subprocess.Popen([sys.executable, "-c", WATCHDOG, str(os.getpid()), str(seconds), message])
    try:
        yield
    finally:
        watchdog.kill()
        watchdog.wait()


def make_strategy(
    name: str, *, devices: tuple[str, ...] = (), peer_timeout: float = PEER_TIMEOUT
) -> tuple[Any, Cluster | None]:
    """The strategy ``name`` resolves to, and this process's cluster (None outside multiworker).

    Call it before any other TensorFlow op: a multiworker strategy must set up the runtime itself.
    """
    cluster = cluster_from_env()
    name = resolve(name, cluster, devices)
    tf = import_tf()
    if name == "default":
        return tf.distribute.get_strategy(), None
    if name == "mirrored":
        strategy = tf.distribute.MirroredStrategy([_local_device(tf, device) for device in devices] or None)
        if strategy.num_replicas_in_sync == 1:
            log.warning("--strategy mirrored on one device: it trains, but without a speed-up")
        return strategy, None
    assert cluster is not None  # resolve() refused multiworker without TF_CONFIG
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=peer_timeout)
    peers = ", ".join(cluster.workers)
    with deadline(peer_timeout, f"joining the workers {peers} (is every worker started and reachable?)"):
        strategy = _keras_multi_worker(tf)(communication_options=options)
    return strategy, cluster


def _local_device(tf: Any, name: str) -> str:
    """``name`` (``/gpu:1``, ``GPU:1``) as TensorFlow names it; a device this machine lacks is an error."""
    have = [device.name for device in tf.config.list_logical_devices()]
    try:
        spec = tf.DeviceSpec.from_string(name if "/" in name else f"/device:{name}")
        full = f"/device:{(spec.device_type or '').upper()}:{spec.device_index}"
    except ValueError:
        full = None
    if full is None or full not in have:
        raise EdgeEmotionError(f"--device {name}: not a device of this machine; it has {', '.join(have)}")
    return full


def _keras_multi_worker(tf: Any) -> type:
    """MultiWorkerMirroredStrategy that reduces what Keras 3's ``fit`` hands it.

    ``fit`` asks the strategy to reduce a whole (images, targets) batch and scalar metrics
    along axis 0; TensorFlow's collective strategy takes one value at a time and no axis on
    a scalar, so ``fit`` fails on two workers (keras-team/keras#20585). Each value is
    reduced on its own here, scalars across replicas.
    """

    class KerasMultiWorker(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op: Any, value: Any, axis: int | None) -> Any:
            one = super().reduce

            def reduced(item: Any) -> Any:
                scalar = self.experimental_local_results(item)[0].shape.rank == 0
                return one(reduce_op, item, None if scalar else axis)

            return tf.nest.map_structure(reduced, value)

    return KerasMultiWorker


@contextmanager
def writing_folder(out: Path, cluster: Cluster | None) -> Iterator[Path]:
    """Where this process writes the run: ``out`` for the chief, a temporary folder, removed at the end, for the others.

    Every worker runs the same saving calls (saving may take part in collectives); only the
    chief's land in the run folder.
    """
    if cluster is None or cluster.is_chief:
        yield out
        return
    folder = Path(tempfile.mkdtemp(prefix=f"edge-emotion-{cluster.name}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def backup_dir(out: Path, cluster: Cluster | None) -> Path | None:
    """This worker's Keras BackupAndRestore folder, beside the run folder on its machine: ``OUT.backup/worker-1``.

    None outside a cluster, where the run folder's own checkpoint is enough to resume.
    """
    return out.with_name(out.name + ".backup") / cluster.name if cluster else None


def backed_up_epoch(backup: Path | None) -> int:
    """The last finished epoch in this worker's backup (0: none): where every worker of a restarted run goes on from."""
    if backup is None:
        return 0
    metadata = backup / "training_metadata.json"  # written by keras.callbacks.BackupAndRestore after the weights
    try:
        return int(json.loads(metadata.read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def remove_backups(backup: Path) -> None:
    """The backups' folder once the last worker's backup is gone (Keras removes each when training ends)."""
    with suppress(OSError):
        backup.parent.rmdir()
