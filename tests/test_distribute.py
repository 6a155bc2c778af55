"""Strategies: TF_CONFIG read with clear errors, auto resolution, a bounded wait for peers, and real runs.

The runs under a strategy other than the default one go in fresh processes (a multiworker
strategy must start TensorFlow itself; logical devices are fixed before it starts), through
tests/distributed_worker.py, which registers the tiny architecture there.
"""

import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge_emotion.cli import app
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.training import fit
from edge_emotion.training.config import TrainConfig, command_flag, resumed_config
from edge_emotion.training.distribute import Cluster, cluster_from_env, resolve

WORKER = Path(__file__).with_name("distributed_worker.py")

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
    assert resolve("auto", two, ("/cpu:0", "/cpu:1")) == "mirrored"
    with pytest.raises(EdgeEmotionError, match="--device names the devices of --strategy mirrored"):
        resolve("multiworker", two, ("/cpu:0",))


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


def test_a_bad_tf_config_stops_train_with_one_line(fer_csv: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["train", "--data", str(fer_csv), "--out", str(tmp_path / "run")], env={"TF_CONFIG": "{not json"}
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: TF_CONFIG is not a valid cluster description")
    assert not (tmp_path / "run").exists()


def test_mirrored_on_one_device_trains_and_says_so(
    fer_csv: Path, tiny_arch: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = TrainConfig(data=str(fer_csv), arch=tiny_arch, epochs=1, batch_size=32, strategy="mirrored")
    with caplog.at_level(logging.WARNING):
        summary = fit.train(config=config, out=tmp_path / "run")
    assert summary["replicas"] == 1 and summary["epochs"] == 1
    assert "--strategy mirrored on one device: it trains, but without a speed-up" in caplog.text


def test_a_device_this_machine_lacks_is_one_error(fer_csv: Path, tiny_arch: str, tmp_path: Path) -> None:
    config = TrainConfig(data=str(fer_csv), arch=tiny_arch, devices=("/gpu:7",))
    with pytest.raises(EdgeEmotionError, match="--device /gpu:7: not a device of this machine; it has /device:CPU:0"):
        fit.train(config=config, out=tmp_path / "run")


def test_resume_may_move_a_run_but_not_change_it() -> None:
    """Strategy, devices, streaming and cache say where and how a run trains: a resumed run may change them."""
    saved = TrainConfig(data="faces", strategy="multiworker")
    moved = resumed_config(saved, {"strategy": "mirrored", "devices": ("/gpu:0",)}, Path("run"), started=True)
    assert (moved.strategy, moved.devices) == ("mirrored", ("/gpu:0",))
    assert command_flag("devices", moved.devices) == "--device /gpu:0"
    with pytest.raises(EdgeEmotionError, match="leave out --batch-size 8"):
        resumed_config(saved, {"batch_size": 8}, Path("run"), started=True)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def worker(args: list[str], tmp_path: Path, **env: str) -> subprocess.Popen:
    """``edge-emotion ARGS`` in a fresh process with the tiny architecture; its temporary files in tmp_path/tmp."""
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp"), "TF_CPP_MIN_LOG_LEVEL": "3", **env}
    env["PYTHONPATH"] = os.pathsep.join([str(WORKER.parents[1]), env.get("PYTHONPATH", "")])
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finish(process: subprocess.Popen, seconds: float = 240) -> tuple[int, str]:
    """Its exit code and output, killed (the test's own process) if it runs past ``seconds``."""
    try:
        output, _ = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"still running after {seconds} s:\n{output[-3000:]}")
    return process.returncode, output


@pytest.mark.distributed
def test_mirrored_over_two_logical_cpus(fer_csv: Path, tmp_path: Path) -> None:
    """Two replicas in one process: each global batch split in two, the loss falls, the run folder as usual."""
    out = tmp_path / "run"
    args = ["--cpus", "2", "train", "--data", str(fer_csv), "--arch", "tiny-test", "--epochs", "4"]
    args += ["--batch-size", "32", "--learning-rate", "3e-3", "--no-augment", "--out", str(out)]
    args += ["--strategy", "mirrored", "--device", "/cpu:0", "--device", "/cpu:1"]
    code, output = finish(worker(args, tmp_path))
    assert code == 0, output[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["replicas"] == 2 and summary["epochs"] == 4 and summary["train_faces"] == 210
    losses = [float(line.split(",")[1]) for line in (out / "history.csv").read_text().splitlines()[1:]]
    assert len(losses) == 4 and losses[-1] < losses[0]
    saved = json.loads((out / "config.json").read_text())
    assert saved["strategy"] == "mirrored" and saved["devices"] == ["/cpu:0", "/cpu:1"]
    assert {"best.keras", "last.keras", "curves.png"} <= {p.name for p in out.iterdir()}


def two_workers(args: list[str], tmp_path: Path, *, crash_after: int = 0) -> list[subprocess.Popen]:
    """Workers 0 and 1 of one cluster on free local ports; worker 1 vanishes after epoch ``crash_after``."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    configs = [json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}) for i in (0, 1)]
    crash = {"EDGE_EMOTION_TEST_EXIT_AFTER_EPOCH": str(crash_after)}
    return [worker(args, tmp_path, TF_CONFIG=configs[0]), worker(args, tmp_path, TF_CONFIG=configs[1], **crash)]


@pytest.mark.distributed
def test_two_workers_train_one_run_and_a_crashed_worker_restarts_from_its_backup(fer_csv: Path, tmp_path: Path) -> None:
    """Worker 1 vanishes after epoch 1: worker 0 stops with one line; both started again go on from epoch 2.

    Each worker keeps its own BackupAndRestore folder; only the chief (worker 0) writes the
    run folder, the other's temporary folder and the backups are gone at the end.
    """
    out = tmp_path / "run"
    args = ["train", "--data", str(fer_csv), "--arch", "tiny-test", "--epochs", "3", "--batch-size", "32"]
    args += ["--out", str(out), "--strategy", "multiworker", "--peer-timeout", "30"]
    chief, other = two_workers(args, tmp_path, crash_after=1)
    code, output = finish(other)
    assert code == 3, output[-3000:]
    code, output = finish(chief)
    assert code == 1 and "error: a worker stopped or stopped answering" in output, output[-3000:]
    backups = tmp_path / "run.backup"
    assert sorted(p.name for p in backups.iterdir()) == ["worker-0", "worker-1"]
    for folder in backups.iterdir():
        assert json.loads((folder / "training_metadata.json").read_text())["epoch"] == 1
    assert len((out / "history.csv").read_text().splitlines()) == 2  # the header and epoch 1
    crashed = set((tmp_path / "tmp").glob("edge-emotion-*"))  # the vanished worker's folder, as a crash leaves it

    outputs = [finish(process)[1] for process in two_workers(args, tmp_path)]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 3 and summary["replicas"] == 2, outputs[0][-3000:]
    for output in outputs:
        assert "epochs 2 to 3" in output and "epoch 1/3" not in output and "epoch 2/3 done" in output  # from the backup
    assert len((out / "history.csv").read_text().splitlines()) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "tmp"]  # no backups left, no other run folder
    assert set((tmp_path / "tmp").glob("edge-emotion-*")) == crashed  # the other worker's folder is removed


@pytest.mark.distributed
def test_train_stops_in_bounded_time_when_a_peer_never_comes(fer_csv: Path, tmp_path: Path) -> None:
    two = {
        "cluster": {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]},
        "task": {"type": "worker", "index": 0},
    }
    args = ["train", "--data", str(fer_csv), "--out", str(tmp_path / "run"), "--peer-timeout", "5"]
    started = time.monotonic()
    code, output = finish(worker(args, tmp_path, TF_CONFIG=json.dumps(two)), seconds=120)
    assert code != 0 and time.monotonic() - started < 100
    assert "error: joining the workers 127.0.0.1:" in output and "did not finish within 5 s" in output
    assert not (tmp_path / "run").exists()


def test_only_the_chief_writes_the_run_folder(tmp_path: Path) -> None:
    from edge_emotion.training.distribute import backup_dir, writing_folder

    out = tmp_path / "run"
    chief, other = (Cluster(("a:1", "b:2"), "worker", index) for index in (0, 1))
    with writing_folder(out, chief) as folder:
        assert folder == out
    with writing_folder(out, other) as folder:
        assert folder != out and folder.is_dir() and not folder.is_relative_to(tmp_path)
        (folder / "last.keras").write_text("the other worker's save")
    assert not folder.exists() and not out.exists()
    assert backup_dir(out, other) == tmp_path / "run.backup" / "worker-1" != backup_dir(out, chief)
    assert backup_dir(out, None) is None
