"""Strategies: TF_CONFIG read with clear errors, auto resolution, and a bounded wait for peers."""

import json
import subprocess
import sys

import pytest

from edge_emotion.errors import EdgeEmotionError
from edge_emotion.training.distribute import Cluster, cluster_from_env, resolve

TWO = {"cluster": {"worker": ["127.0.0.1:20001", "127.0.0.1:20002"]}, "task": {"type": "worker", "index": 1}}


def test_no_tf_config_is_no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert cluster_from_env() is None


def test_tf_config_names_this_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_CONFIG", json.dumps(TWO))
    cluster = cluster_from_env()
    assert cluster == Cluster(("127.0.0.1:20001", "127.0.0.1:20002"), "worker", 1)
    assert not cluster.is_chief and Cluster(cluster.workers, "worker", 0).is_chief


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        json.dumps({"cluster": {}}),
        json.dumps({**TWO, "task": {"type": "worker", "index": 2}}),
        json.dumps({**TWO, "task": {"type": "ps", "index": 0}}),
        json.dumps({**TWO, "cluster": {"worker": ["127.0.0.1"]}}),
    ],
)
def test_a_malformed_tf_config_is_one_clear_error(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_CONFIG", text)
    with pytest.raises(EdgeEmotionError, match="TF_CONFIG"):
        cluster_from_env()


def test_resolve() -> None:
    two = Cluster(("a:1", "b:2"), "worker", 0)
    assert resolve("auto", two) == "multiworker"
    assert resolve("auto", None) == "default"  # this machine has no GPU
    assert resolve("mirrored", None) == "mirrored"
    with pytest.raises(EdgeEmotionError, match="needs TF_CONFIG"):
        resolve("multiworker", None)
    with pytest.raises(EdgeEmotionError, match="unknown strategy"):
        resolve("ring", None)


def test_a_worker_that_cannot_reach_its_peer_stops_in_bounded_time() -> None:
    """The peer is never started: one clear line and a non-zero exit after the timeout, not a hang."""
    code = "from edge_emotion.training.distribute import make_strategy; make_strategy('multiworker', peer_timeout=5)"
    env = {"TF_CONFIG": json.dumps({**TWO, "task": {"type": "worker", "index": 0}}), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", code], env={**__import__("os").environ, **env}, capture_output=True, text=True,
        timeout=90,
    )  # fmt: skip
    assert result.returncode != 0
    assert "error: joining the workers 127.0.0.1:20001, 127.0.0.1:20002" in result.stderr
