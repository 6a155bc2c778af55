"""Which tf.distribute strategy a run trains under, who writes the run folder, and a bounded wait for peers.

``default`` is one process on one device; ``mirrored`` copies the model onto every local
GPU (or the given devices) and splits each global batch between them; ``multiworker`` does
the same across processes and machines described by ``TF_CONFIG``. Keras ``fit`` does the
rest: the model, optimizer and metrics are built under ``strategy.scope()``.
"""

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from edge_emotion.errors import EdgeEmotionError
from edge_emotion.training.keras_import import import_tf

log = logging.getLogger(__name__)
STRATEGIES = ("auto", "default", "mirrored", "multiworker")


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


def resolve(name: str, cluster: Cluster | None) -> str:
    """``auto``: multiworker when TF_CONFIG names several workers, mirrored with several GPUs, else default."""
    if name not in STRATEGIES:
        raise EdgeEmotionError(f"unknown strategy {name!r}; use one of {', '.join(STRATEGIES)}")
    if name == "multiworker" and cluster is None:
        raise EdgeEmotionError("--strategy multiworker needs TF_CONFIG (see the README: More than one machine)")
    if name != "auto":
        return name
    if cluster is not None and len(cluster.workers) > 1:
        return "multiworker"
    return "mirrored" if len(import_tf().config.list_logical_devices("GPU")) > 1 else "default"


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


def make_strategy(name: str, *, peer_timeout: float = 120.0) -> tuple[Any, Cluster | None]:
    """The strategy ``name`` resolves to, and this process's cluster (None outside multiworker)."""
    cluster = cluster_from_env()
    name = resolve(name, cluster)
    tf = import_tf()
    if name == "default":
        return tf.distribute.get_strategy(), None
    if name == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
        if strategy.num_replicas_in_sync == 1:
            log.warning("--strategy mirrored on one device: it trains, but without a speed-up")
        return strategy, None
    assert cluster is not None  # resolve() refused multiworker without TF_CONFIG
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=peer_timeout)
    peers = ", ".join(cluster.workers)
    with deadline(peer_timeout, f"joining the workers {peers} (is every worker started and reachable?)"):
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    return strategy, cluster
